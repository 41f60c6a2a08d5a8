//! The reference's image-domain quality metric, on the 64x64 image.

/// The reference's quality: the sum of neighbouring differences, each `(u - v) * 100 / 255`
/// truncated, over 90, at most 100.
pub(super) fn quality(a: &[[f32; 64]; 64]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0f32) / 255.0f32) as i32;
    let mut sum: i64 = 0;
    for pair in a.windows(2) {
        for (&u, &v) in pair[0].iter().zip(&pair[1]) {
            sum += i64::from(step(u, v).abs());
        }
    }
    for row in a {
        for pair in row.windows(2) {
            sum += i64::from(step(pair[0], pair[1]).abs());
        }
    }
    (sum / 90).min(100) as u8
}
