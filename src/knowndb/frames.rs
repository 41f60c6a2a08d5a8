//! The frames of known videos (vPDQ), read for a scan's matching.

use super::{DbError, KnownDb};

impl KnownDb {
    /// Every known video's vPDQ frames `(hash, quality)` in their order, with its medium id,
    /// in id order.
    ///
    /// # Errors
    /// SQLite errors; a frame whose hash is not 32 bytes; Ctrl-C ([`DbError::Interrupted`]).
    #[allow(clippy::type_complexity)]
    pub fn video_frames(
        &self,
        cancel: &crate::cancel::Cancel,
    ) -> Result<Vec<(i64, Vec<(crate::media::pdq::PdqHash, u8)>)>, DbError> {
        use crate::media::pdq::PdqHash;
        let e = |s| self.sqlite_error(s);
        let mut stmt = self
            .conn
            .prepare("SELECT media_id, quality, pdq FROM video_frame ORDER BY media_id, position")
            .map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        let mut videos: Vec<(i64, Vec<(PdqHash, u8)>)> = Vec::new();
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let quality: i64 = r.get(1).map_err(e)?;
            let bytes: Vec<u8> = r.get(2).map_err(e)?;
            let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| DbError::Corrupt {
                path: self.path().to_owned(),
                reason: format!(
                    "a frame of medium {id} has a PDQ hash of {} bytes",
                    bytes.len()
                ),
            })?;
            let frame = (PdqHash::from_bytes(&bytes), quality.clamp(0, 100) as u8);
            match videos.last_mut() {
                Some((last, frames)) if *last == id => frames.push(frame),
                _ => videos.push((id, vec![frame])),
            }
            n += 1;
            if n.is_multiple_of(1 << 16) && cancel.is_cancelled() {
                return Err(DbError::Interrupted);
            }
        }
        Ok(videos)
    }
}
