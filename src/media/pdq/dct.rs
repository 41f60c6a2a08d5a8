//! The 16x16 DCT of the 64x64 image, one bit per coefficient above the median (Torben's),
//! and the DCTs of the seven other dihedral transforms.

use std::sync::OnceLock;

use super::{PdqHash, Transform};

/// The reference's 16x64 DCT matrix: row `i` is frequency `i + 1`.
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static D: OnceLock<[[f32; 64]; 16]> = OnceLock::new();
    D.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut d = [[0f32; 64]; 16];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * arg.cos()) as f32;
            }
        }
        d
    })
}

/// `D * A * D^T`, every sum in f32 from 0 with k ascending, as the reference adds.
pub(super) fn dct16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let d = dct_matrix();
    // T[i][j] = sum over k of D[i][k] * A[k][j]: run over k outside and j inside, so each
    // T[i][j] still adds its terms in k order.
    let mut t = [[0f32; 64]; 16];
    for (ti, di) in t.iter_mut().zip(d) {
        for (dik, ak) in di.iter().zip(a) {
            for (tij, akj) in ti.iter_mut().zip(ak) {
                *tij += dik * akj;
            }
        }
    }
    let mut out = [[0f32; 16]; 16];
    for (oi, ti) in out.iter_mut().zip(&t) {
        for (oij, dj) in oi.iter_mut().zip(d) {
            let mut sum = 0.0f32;
            for (tik, djk) in ti.iter().zip(dj) {
                sum += tik * djk;
            }
            *oij = sum;
        }
    }
    out
}

/// One bit per coefficient strictly above the median.
pub(super) fn bits(dct: &[[f32; 16]; 16]) -> PdqHash {
    let flat: Vec<f32> = dct.iter().flatten().copied().collect();
    let median = torben(&flat);
    let mut words = [0u16; 16];
    for (w, row) in words.iter_mut().zip(dct) {
        for (j, &v) in row.iter().enumerate() {
            if v > median {
                *w |= 1 << j;
            }
        }
    }
    PdqHash(words)
}

/// Torben's median as the reference has it (for 256 values, the 128th smallest).
fn torben(m: &[f32]) -> f32 {
    let n = m.len();
    let half = n.div_ceil(2);
    let (mut min, mut max) = (m[0], m[0]);
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0usize, 0usize, 0usize);
        let (mut max_lt, mut min_gt) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > max_lt {
                    max_lt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < min_gt {
                    min_gt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_lt
            } else if less + equal >= half {
                guess
            } else {
                min_gt
            };
        }
        if less > greater {
            max = max_lt;
        } else {
            min = min_gt;
        }
    }
}

/// The DCT of the image under transform `t`, from the DCT of the image: reversing a side
/// changes the sign of its odd frequencies (even indices), turning a quarter swaps the axes.
pub(super) fn transformed(a: &[[f32; 16]; 16], t: Transform) -> [[f32; 16]; 16] {
    let mut b = [[0f32; 16]; 16];
    for (r, row) in b.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            let (same, swapped) = (a[r][c], a[c][r]);
            *v = match t {
                Transform::Original => same,
                Transform::Rotate90 => odd_or_negated(r, swapped),
                Transform::Rotate180 => odd_or_negated(r + c + 1, same),
                Transform::Rotate270 => odd_or_negated(c, swapped),
                Transform::FlipX => odd_or_negated(r, same),
                Transform::FlipY => odd_or_negated(c, same),
                Transform::FlipPlus1 => swapped,
                Transform::FlipMinus1 => odd_or_negated(r + c + 1, swapped),
            };
        }
    }
    b
}

/// `v` when `index` is odd, `-v` when it is even.
fn odd_or_negated(index: usize, v: f32) -> f32 {
    if index % 2 == 1 { v } else { -v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torben_gives_the_lower_median_as_a_sort_does() {
        let mut state = 12345u32;
        for round in 0..200 {
            let values: Vec<f32> = (0..256)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Few distinct values in some rounds, so ties are exercised.
                    let span = if round % 3 == 0 { 7 } else { 1 << 15 };
                    ((state >> 8) % span) as f32 - (span / 2) as f32
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f32::total_cmp);
            assert_eq!(torben(&values), sorted[127], "round {round}");
        }
    }
}
