use super::*;

#[test]
fn formats_are_told_by_their_first_bytes() {
    let mut tar = vec![0u8; 512];
    tar[..5].copy_from_slice(b"a.txt");
    tar[257..263].copy_from_slice(b"ustar\0");
    for (head, want) in [
        (&b"PK\x03\x04rest"[..], Some(Format::Zip)),
        (b"PK\x05\x06", Some(Format::Zip)),
        (
            &[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0, 4],
            Some(Format::SevenZip),
        ),
        (&[0x1F, 0x8B, 0x08, 0], Some(Format::Gzip)),
        (b"BZh91AY", Some(Format::Bzip2)),
        (b"BZhx", None),
        (&[0xFD, b'7', b'z', b'X', b'Z', 0], Some(Format::Xz)),
        (&[0x28, 0xB5, 0x2F, 0xFD, 0], Some(Format::Zstd)),
        (&tar[..], Some(Format::Tar)),
        (&tar[..300], None),
        (b"%PDF-1.7", None),
        (b"", None),
    ] {
        assert_eq!(Format::detect(head), want, "{head:?}");
    }
}

#[test]
fn a_v7_tar_header_is_told_by_its_checksum() {
    let mut h = vec![0u8; 512];
    h[..5].copy_from_slice(b"a.txt");
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(b"00000000005\0");
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    assert_eq!(Format::detect(&h), Some(Format::Tar));
    h[0] = b'b'; // the checksum no longer holds
    assert_eq!(Format::detect(&h), None);
    assert_eq!(Format::detect(&[0u8; 512]), None, "zeros are not a header");
}

#[test]
fn the_budget_is_the_ratio_within_its_floor_and_ceiling() {
    let l = Limits {
        ratio: 10,
        ratio_floor: 1000,
        bytes: 50_000,
        ..Limits::default()
    };
    assert_eq!(Budget::new(l, 10).allowed(), 1000);
    assert_eq!(Budget::new(l, 300).allowed(), 3000);
    assert_eq!(Budget::new(l, 1 << 40).allowed(), 50_000);
    assert_eq!(Budget::new(l, u64::MAX).allowed(), 50_000);
}

#[test]
fn a_metered_reader_stops_one_byte_past_the_budget() {
    let l = Limits {
        ratio: 1,
        ratio_floor: 100,
        ..Limits::default()
    };
    let budget = Budget::new(l, 1);
    let data = vec![7u8; 1000];
    let mut src = &data[..];
    let mut r = Metered::new(&mut src, &budget);
    let mut got = Vec::new();
    let e = r.read_to_end(&mut got).unwrap_err();
    assert_eq!(e.to_string(), "the expansion budget is spent");
    assert_eq!(got.len(), 100, "exactly the budget was handed over");
    assert_eq!(budget.used(), 101);
    assert!(budget.exhausted());
    // Exactly the budget is not past it.
    let budget = Budget::new(l, 1);
    let data = [7u8; 100];
    let mut src = &data[..];
    let mut got = Vec::new();
    Metered::new(&mut src, &budget)
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got.len(), 100);
    assert!(!budget.exhausted());
}
