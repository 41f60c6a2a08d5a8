//! The reference's box filter (`box1DFloat`, "Jarosz"), two passes along rows and columns,
//! and the decimation to 64x64.

use super::luma::{Luma, give_f32, take_f32};

/// The reference's box-filter window for a side of `dimension` pixels brought to 64:
/// `ceil(dimension / 128)`.
fn window(dimension: usize) -> usize {
    dimension.div_ceil(128)
}

/// A running box sum the reference's filter drives: add input `i`, take input `i` away, and
/// give output `o` (the sum over `count` inputs). One sum or many side by side: each sees the
/// same operations in the same order.
trait Window {
    fn add(&mut self, i: usize);
    fn sub(&mut self, i: usize);
    fn emit(&mut self, o: usize, count: usize);
}

/// Walks a vector of `len` values with a window of `full` as the reference's `box1DFloat`
/// does: the output at `o` averages the inputs from `o - (full - half)` to `o + half - 1`, cut
/// at the ends, from a running sum (the new input added before the old one is taken away).
fn run_window(len: usize, full: usize, w: &mut impl Window) {
    let half = (full + 2) / 2;
    let (mut li, mut ri, mut oi, mut count) = (0, 0, 0, 0);
    for _ in 0..half - 1 {
        w.add(ri);
        count += 1;
        ri += 1;
    }
    for _ in 0..full - half + 1 {
        w.add(ri);
        count += 1;
        w.emit(oi, count);
        ri += 1;
        oi += 1;
    }
    for _ in 0..len - full {
        w.add(ri);
        w.sub(li);
        w.emit(oi, count);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..half - 1 {
        w.sub(li);
        count -= 1;
        w.emit(oi, count);
        li += 1;
        oi += 1;
    }
}

/// `N` rows of a plane filtered side by side (independent sums, so the processor overlaps
/// them), written whole or only at the sampled columns.
struct Rows<'a, const N: usize> {
    input: &'a [f32],
    output: &'a mut [f32],
    width: usize,
    /// The first row, in the input, of the `N`.
    first: usize,
    sums: [f32; N],
    /// When set, outputs go only to these columns (ascending, maybe repeated), `out_width`
    /// apart in `output`.
    samples: Option<&'a [usize]>,
    next: usize,
}

impl<const N: usize> Window for Rows<'_, N> {
    #[inline(always)]
    fn add(&mut self, i: usize) {
        for (r, s) in self.sums.iter_mut().enumerate() {
            *s += self.input[(self.first + r) * self.width + i];
        }
    }
    #[inline(always)]
    fn sub(&mut self, i: usize) {
        for (r, s) in self.sums.iter_mut().enumerate() {
            *s -= self.input[(self.first + r) * self.width + i];
        }
    }
    #[inline(always)]
    fn emit(&mut self, o: usize, count: usize) {
        let n = count as f32;
        match self.samples {
            None => {
                for (r, s) in self.sums.iter().enumerate() {
                    self.output[(self.first + r) * self.width + o] = s / n;
                }
            }
            Some(samples) => {
                let stride = samples.len();
                while self.next < samples.len() && samples[self.next] == o {
                    for (r, s) in self.sums.iter().enumerate() {
                        self.output[(self.first + r) * stride + self.next] = s / n;
                    }
                    self.next += 1;
                }
            }
        }
    }
}

/// One pass along every row of a `width`-wide plane. With `samples`, `output` gets only those
/// columns (a plane `samples.len()` wide).
fn box_rows(
    input: &[f32],
    output: &mut [f32],
    width: usize,
    full: usize,
    samples: Option<&[usize]>,
) {
    const BLOCK: usize = 8;
    let height = input.len() / width;
    let mut first = 0;
    while first + BLOCK <= height {
        let mut w = Rows::<BLOCK> {
            input,
            output: &mut *output,
            width,
            first,
            sums: [0.0; BLOCK],
            samples,
            next: 0,
        };
        run_window(width, full, &mut w);
        first += BLOCK;
    }
    for row in first..height {
        let mut w = Rows::<1> {
            input,
            output: &mut *output,
            width,
            first: row,
            sums: [0.0; 1],
            samples,
            next: 0,
        };
        run_window(width, full, &mut w);
    }
}

/// Every column of a `width`-wide plane filtered at once, reading row after row; with
/// `samples`, only those rows are written (`output` then holds `samples.len()` rows).
struct Columns<'a> {
    input: &'a [f32],
    output: &'a mut [f32],
    width: usize,
    sums: Vec<f32>,
    samples: Option<&'a [usize]>,
    next: usize,
}

impl Window for Columns<'_> {
    #[inline(always)]
    fn add(&mut self, i: usize) {
        let row = &self.input[i * self.width..(i + 1) * self.width];
        for (s, x) in self.sums.iter_mut().zip(row) {
            *s += x;
        }
    }
    #[inline(always)]
    fn sub(&mut self, i: usize) {
        let row = &self.input[i * self.width..(i + 1) * self.width];
        for (s, x) in self.sums.iter_mut().zip(row) {
            *s -= x;
        }
    }
    #[inline(always)]
    fn emit(&mut self, o: usize, count: usize) {
        let n = count as f32;
        let width = self.width;
        let put = |out_row: usize, sums: &[f32], output: &mut [f32]| {
            for (v, s) in output[out_row * width..(out_row + 1) * width]
                .iter_mut()
                .zip(sums)
            {
                *v = s / n;
            }
        };
        match self.samples {
            None => put(o, &self.sums, self.output),
            Some(samples) => {
                while self.next < samples.len() && samples[self.next] == o {
                    put(self.next, &self.sums, self.output);
                    self.next += 1;
                }
            }
        }
    }
}

fn box_columns(
    input: &[f32],
    output: &mut [f32],
    width: usize,
    full: usize,
    samples: Option<&[usize]>,
) {
    let height = input.len() / width;
    let mut w = Columns {
        input,
        output,
        width,
        sums: vec![0.0; width],
        samples,
        next: 0,
    };
    run_window(height, full, &mut w);
}

/// The 64 positions the reference samples along a side of `n`: `(2i + 1) * n / 128`.
fn samples(n: usize) -> [usize; 64] {
    std::array::from_fn(|i| (2 * i + 1) * n / 128)
}

/// The reference's two passes of rows then columns, then the 64x64 samples: row
/// `(2i + 1) * height / 128`, column `(2j + 1) * width / 128`. The second pass computes only
/// what is sampled: its row sums run over every pixel but are divided out only at the 64
/// sampled columns, and its column pass runs over those 64 columns only, written at the 64
/// sampled rows. The values that reach the 64x64 are the same.
pub(super) fn blur_and_decimate(luma: Luma) -> Box<[[f32; 64]; 64]> {
    let Luma {
        width,
        height,
        values: mut a,
    } = luma;
    let mut b = take_f32(a.len());
    b.resize(a.len(), 0.0);
    let (along_rows, along_columns) = (window(width), window(height));
    let (rows, columns) = (samples(height), samples(width));
    box_rows(&a, &mut b, width, along_rows, None);
    box_columns(&b, &mut a, width, along_columns, None);
    give_f32(b);
    let mut narrow = vec![0.0f32; height * 64];
    box_rows(&a, &mut narrow, width, along_rows, Some(&columns));
    give_f32(a);
    let mut out = vec![0.0f32; 64 * 64];
    box_columns(&narrow, &mut out, 64, along_columns, Some(&rows));
    let mut small = Box::new([[0f32; 64]; 64]);
    for (row, values) in small.iter_mut().zip(out.chunks_exact(64)) {
        row.copy_from_slice(values);
    }
    small
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's `box1DFloat` written out literally, one vector at a time: the oracle
    /// for the filter passes.
    fn box_row(input: &[f32], output: &mut [f32], full: usize) {
        let half = (full + 2) / 2;
        let mut sum = 0.0f32;
        let mut count = 0usize;
        let (mut li, mut ri, mut oi) = (0, 0, 0);
        for _ in 0..half - 1 {
            sum += input[ri];
            count += 1;
            ri += 1;
        }
        for _ in 0..full - half + 1 {
            sum += input[ri];
            count += 1;
            output[oi] = sum / count as f32;
            ri += 1;
            oi += 1;
        }
        for _ in 0..input.len() - full {
            sum += input[ri];
            sum -= input[li];
            output[oi] = sum / count as f32;
            li += 1;
            ri += 1;
            oi += 1;
        }
        for _ in 0..half - 1 {
            sum -= input[li];
            count -= 1;
            output[oi] = sum / count as f32;
            li += 1;
            oi += 1;
        }
    }

    fn plane(width: usize, height: usize) -> Vec<f32> {
        let mut state = 1u32;
        (0..width * height)
            .map(|_| {
                state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
                (state >> 24) as f32 * 0.731
            })
            .collect()
    }

    fn bits_of(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Both passes, whole and sampled, against the literal reference on each vector copied out.
    #[test]
    fn passes_equal_the_reference_filter_on_each_row_and_column() {
        // 19 rows: two blocks of 8 and a tail of 3; 100 columns: sample positions repeat.
        let (width, height) = (100, 19);
        let input = plane(width, height);
        let (rows_s, cols_s) = (samples(height), samples(width));
        for full in [1, 2, 3, 4, 5, 8, 19] {
            let mut by_rows = vec![0.0; input.len()];
            box_rows(&input, &mut by_rows, width, full.min(width), None);
            let mut narrow = vec![0.0; height * 64];
            box_rows(&input, &mut narrow, width, full.min(width), Some(&cols_s));
            for r in 0..height {
                let row = &input[r * width..(r + 1) * width];
                let mut expected = vec![0.0; width];
                box_row(row, &mut expected, full.min(width));
                assert_eq!(
                    bits_of(&by_rows[r * width..(r + 1) * width]),
                    bits_of(&expected)
                );
                let sampled: Vec<f32> = cols_s.iter().map(|&c| expected[c]).collect();
                assert_eq!(bits_of(&narrow[r * 64..(r + 1) * 64]), bits_of(&sampled));
            }
            let mut by_columns = vec![0.0; input.len()];
            box_columns(&input, &mut by_columns, width, full, None);
            let mut picked = vec![0.0; 64 * width];
            box_columns(&input, &mut picked, width, full, Some(&rows_s));
            for c in 0..width {
                let column: Vec<f32> = (0..height).map(|r| input[r * width + c]).collect();
                let mut expected = vec![0.0; height];
                box_row(&column, &mut expected, full);
                let got: Vec<f32> = (0..height).map(|r| by_columns[r * width + c]).collect();
                assert_eq!(
                    bits_of(&got),
                    bits_of(&expected),
                    "window {full}, column {c}"
                );
                let got: Vec<f32> = (0..64).map(|k| picked[k * width + c]).collect();
                let want: Vec<f32> = rows_s.iter().map(|&r| expected[r]).collect();
                assert_eq!(bits_of(&got), bits_of(&want), "sampled, window {full}");
            }
        }
    }

    /// The literal filter against a direct average over the window the phases define.
    #[test]
    fn the_reference_filter_averages_its_window() {
        let input: Vec<f32> = (0..40).map(|i| ((i * 37) % 11) as f32).collect();
        for full in 1..=12 {
            let mut out = vec![0.0; input.len()];
            box_row(&input, &mut out, full);
            let half = (full + 2) / 2;
            for (o, got) in out.iter().enumerate() {
                let lo = o.saturating_sub(full - half);
                let hi = (o + half - 1).min(input.len() - 1);
                let mean: f64 = input[lo..=hi].iter().map(|&v| f64::from(v)).sum::<f64>()
                    / (hi - lo + 1) as f64;
                assert!(
                    (f64::from(*got) - mean).abs() < 1e-4,
                    "window {full} at {o}"
                );
            }
        }
    }
}
