//! Telling a disk image by its first bytes: an EWF segment, or a raw image that starts with a
//! partition table or a file system's boot sector or superblock.

/// How many bytes of a file [`detect`] looks at: ext2/3/4's magic is at 1080, HFS+'s at 1024.
pub const HEAD: usize = 4096;

/// What the first bytes of a file say it is, as a disk image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// The first segment of an EWF image (E01).
    Ewf,
    /// Another segment of an EWF image: read through its first.
    EwfLater,
    /// A raw image, starting with what is named.
    Raw(&'static str),
}

/// What `head` (the first [`HEAD`] bytes of a file, fewer if it is shorter) says the file is,
/// if a disk image.
pub fn detect(head: &[u8]) -> Option<Found> {
    let at = |offset: usize, magic: &[u8]| {
        head.get(offset..offset + magic.len())
            .is_some_and(|b| b == magic)
    };
    if head.starts_with(super::media::EWF_SIGNATURE) {
        // After the signature: a byte, then the segment number (16 bits, little-endian).
        let segment = head.get(9..11).map(|b| u16::from_le_bytes([b[0], b[1]]));
        return Some(if segment == Some(1) {
            Found::Ewf
        } else {
            Found::EwfLater
        });
    }
    if at(512, b"EFI PART") {
        return Some(Found::Raw("a GPT partition table"));
    }
    let boot = at(510, &[0x55, 0xAA]);
    if boot && at(3, b"NTFS    ") {
        return Some(Found::Raw("an NTFS file system"));
    }
    if boot && at(3, b"EXFAT   ") {
        return Some(Found::Raw("an exFAT file system"));
    }
    if boot && (at(54, b"FAT1") || at(82, b"FAT32   ")) {
        return Some(Found::Raw("a FAT file system"));
    }
    if boot && mbr_table(head) {
        return Some(Found::Raw("an MBR partition table"));
    }
    if at(1080, &[0x53, 0xEF]) {
        // The revision level (at 1100) is 0 or 1 on every ext2/3/4 made.
        let revision = head
            .get(1100..1104)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if matches!(revision, Some(0 | 1)) {
            return Some(Found::Raw("an ext2/3/4 file system"));
        }
    }
    if at(1024, b"H+\x00\x04") || at(1024, b"HX\x00\x05") {
        return Some(Found::Raw("an HFS+ file system"));
    }
    None
}

/// Whether the four entries of an MBR's table (at 446) are a table: each empty or with a boot
/// flag of 0 or 0x80, a type, a start and a length, and at least one not empty.
fn mbr_table(head: &[u8]) -> bool {
    let Some(table) = head.get(446..510) else {
        return false;
    };
    let mut used = 0;
    for e in table.chunks_exact(16) {
        if e.iter().all(|&b| b == 0) {
            continue;
        }
        let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        let len = u32::from_le_bytes([e[12], e[13], e[14], e[15]]);
        if !matches!(e[0], 0 | 0x80) || e[4] == 0 || start == 0 || len == 0 {
            return false;
        }
        used += 1;
    }
    used > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mut head: Vec<u8>, offset: usize, bytes: &[u8]) -> Vec<u8> {
        head[offset..offset + bytes.len()].copy_from_slice(bytes);
        head
    }

    #[test]
    fn images_are_told_by_their_first_bytes_and_other_files_are_not() {
        let zero = vec![0u8; HEAD];
        assert_eq!(detect(&zero), None);
        let boot = at(zero.clone(), 510, &[0x55, 0xAA]);
        // A boot signature with an empty table is no image.
        assert_eq!(detect(&boot), None);
        let mut entry = [0u8; 16];
        entry[4] = 0x0c;
        entry[8..12].copy_from_slice(&2048u32.to_le_bytes());
        entry[12..16].copy_from_slice(&81920u32.to_le_bytes());
        let mbr = at(boot.clone(), 446, &entry);
        assert_eq!(detect(&mbr), Some(Found::Raw("an MBR partition table")));
        let mut bad = entry;
        bad[0] = 0x12;
        assert_eq!(detect(&at(boot.clone(), 446, &bad)), None);
        assert_eq!(
            detect(&at(mbr.clone(), 512, b"EFI PART")),
            Some(Found::Raw("a GPT partition table"))
        );
        assert_eq!(
            detect(&at(boot.clone(), 3, b"NTFS    ")),
            Some(Found::Raw("an NTFS file system"))
        );
        assert_eq!(
            detect(&at(boot.clone(), 82, b"FAT32   ")),
            Some(Found::Raw("a FAT file system"))
        );
        assert_eq!(
            detect(&at(zero.clone(), 1080, &[0x53, 0xEF])),
            Some(Found::Raw("an ext2/3/4 file system"))
        );
        assert_eq!(
            detect(&at(
                at(zero.clone(), 1080, &[0x53, 0xEF]),
                1100,
                &[7, 0, 0, 0]
            )),
            None
        );
        let mut ewf = super::super::media::EWF_SIGNATURE.to_vec();
        ewf.extend([1, 1, 0, 0, 0]);
        assert_eq!(detect(&ewf), Some(Found::Ewf));
        ewf[9] = 2;
        assert_eq!(detect(&ewf), Some(Found::EwfLater));
        // Cut short: nothing read past the end.
        assert_eq!(detect(&mbr[..300]), None);
    }
}
