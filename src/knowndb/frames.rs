//! The frames of known videos (vPDQ), read for a scan's matching.

use super::{DbError, KnownDb};

impl KnownDb {
    /// Every known video's vPDQ frames, in medium id order and each video's own order, handed
    /// to `each` as `(medium id, hash, quality)` as they are read: a unit's millions of frames
    /// are indexed without first being held in a list.
    ///
    /// # Errors
    /// SQLite errors; a frame whose hash is not 32 bytes; Ctrl-C ([`DbError::Interrupted`]).
    pub fn each_video_frame(
        &self,
        cancel: &crate::cancel::Cancel,
        mut each: impl FnMut(i64, crate::media::pdq::PdqHash, u8),
    ) -> Result<(), DbError> {
        use crate::media::pdq::PdqHash;
        let e = |s| self.sqlite_error(s);
        let mut stmt = self
            .conn
            .prepare("SELECT media_id, quality, pdq FROM video_frame ORDER BY media_id, position")
            .map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let quality: i64 = r.get(1).map_err(e)?;
            let bytes = r.get_ref(2).map_err(e)?.as_blob().ok();
            let Some(bytes) = bytes.and_then(|b| <&[u8; 32]>::try_from(b).ok()) else {
                return Err(DbError::Corrupt {
                    path: self.path().to_owned(),
                    reason: format!("a frame of medium {id} has no PDQ hash of 32 bytes"),
                });
            };
            each(id, PdqHash::from_bytes(bytes), quality.clamp(0, 100) as u8);
            n += 1;
            if n.is_multiple_of(1 << 16) && cancel.is_cancelled() {
                return Err(DbError::Interrupted);
            }
        }
        Ok(())
    }
}
