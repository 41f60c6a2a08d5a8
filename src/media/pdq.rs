//! PDQ, the perceptual hash of the hash-sharing world, as Meta's reference defines it
//! (ThreatExchange `pdq/cpp`, as the `pdqhash` binding calls it on a full-size image), bit for
//! bit: luma, two passes of a box filter along rows and columns, decimation to 64x64, the
//! image-domain quality metric, a 16x16 DCT, and one bit per coefficient above the median.
//! The seven other dihedral hashes (rotations and flips) come from the same DCT by sign changes
//! and transposition.
//!
//! Exactness is in the arithmetic, so every step keeps the reference's types and order:
//! luma in f64 rounded once to f32; the box filter as a running f32 sum (add the new sample,
//! then subtract the old, divide by the samples in the window); the DCT's sums f32 and in
//! ascending order. Where this code is arranged differently for speed (the column pass runs
//! along rows, over every column at once; the DCT's first product runs over rows of the
//! image), each output value still sees the same operations in the same order.

use std::fmt;
use std::sync::OnceLock;

/// Images with a side under this many pixels get the zero hash and quality 0.
pub const MIN_DIMENSION: usize = 5;

/// A 256-bit PDQ hash: word `i` holds the signs of row `i` of the DCT, bit `j` column `j`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PdqHash(pub [u16; 16]);

impl PdqHash {
    /// The number of bits in which two hashes differ.
    pub fn distance(&self, other: &PdqHash) -> u32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Parses the reference's 64 hex digits (the last word first).
    pub fn from_hex(hex: &str) -> Option<PdqHash> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut words = [0u16; 16];
        for (k, chunk) in hex.as_bytes().chunks(4).enumerate() {
            let text = std::str::from_utf8(chunk).ok()?;
            words[15 - k] = u16::from_str_radix(text, 16).ok()?;
        }
        Some(PdqHash(words))
    }

    /// The hash as 32 bytes in the order of its hex form.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (k, w) in self.0.iter().rev().enumerate() {
            out[2 * k..2 * k + 2].copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The inverse of [`PdqHash::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 32]) -> PdqHash {
        let mut words = [0u16; 16];
        for (k, pair) in bytes.chunks(2).enumerate() {
            words[15 - k] = u16::from_be_bytes([pair[0], pair[1]]);
        }
        PdqHash(words)
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in self.0.iter().rev() {
            write!(f, "{w:04x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({self})")
    }
}

/// The eight dihedral transforms, in the reference's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    Original,
    /// 90 degrees counter-clockwise.
    Rotate90,
    Rotate180,
    /// 90 degrees clockwise.
    Rotate270,
    /// Top and bottom swapped.
    FlipX,
    /// Left and right swapped (a mirror image).
    FlipY,
    /// Transposed (upper left and lower right stay).
    FlipPlus1,
    /// Anti-transposed (upper right and lower left stay).
    FlipMinus1,
}

impl Transform {
    pub const ALL: [Transform; 8] = [
        Transform::Original,
        Transform::Rotate90,
        Transform::Rotate180,
        Transform::Rotate270,
        Transform::FlipX,
        Transform::FlipY,
        Transform::FlipPlus1,
        Transform::FlipMinus1,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Transform::Original => "original",
            Transform::Rotate90 => "rot90",
            Transform::Rotate180 => "rot180",
            Transform::Rotate270 => "rot270",
            Transform::FlipX => "flipx",
            Transform::FlipY => "flipy",
            Transform::FlipPlus1 => "flip_plus1",
            Transform::FlipMinus1 => "flip_minus1",
        }
    }
}

/// A hash and the reference's quality (0-100; under 50 the hash is too unreliable to match on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pdq {
    pub hash: PdqHash,
    pub quality: u8,
}

/// The hashes of the eight transforms ([`Transform::ALL`] order) and their one quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dihedral {
    pub hashes: [PdqHash; 8],
    pub quality: u8,
}

/// A luma plane: `width * height` values, row by row.
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

/// The luma of a grey level or an RGB triple as the reference computes it (in f64, R, G, B
/// weighted and added in that order, rounded once to f32). The products come from tables,
/// which hold the same f64 values.
struct LumaWeights {
    r: [f64; 256],
    g: [f64; 256],
    b: [f64; 256],
    grey: [f32; 256],
}

fn weights() -> &'static LumaWeights {
    static W: OnceLock<LumaWeights> = OnceLock::new();
    W.get_or_init(|| {
        let mut w = LumaWeights {
            r: [0.0; 256],
            g: [0.0; 256],
            b: [0.0; 256],
            grey: [0.0; 256],
        };
        for v in 0..256 {
            let x = v as f64;
            w.r[v] = x * 0.299;
            w.g[v] = x * 0.587;
            w.b[v] = x * 0.114;
            w.grey[v] = ((w.r[v] + w.g[v]) + w.b[v]) as f32;
        }
        w
    })
}

// Buffers a thread keeps between images: a camera photo's planes are tens of megabytes, and
// asking the system for them afresh each time costs a page fault for every 4 KiB (a quarter
// of the time of a 12 MP image). Buffers over [`SPARE_MAX`] are given back.
thread_local! {
    static SPARE_F32: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
    static SPARE_U8: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The largest buffer kept for the next image (64 MiB: a 16-megapixel plane of f32).
const SPARE_MAX: usize = 64 << 20;

/// An empty f32 buffer, reusing one this thread gave back.
fn take_f32(capacity: usize) -> Vec<f32> {
    let mut v = SPARE_F32.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.reserve(capacity);
    v
}

fn give_f32(v: Vec<f32>) {
    if v.capacity() * 4 <= SPARE_MAX {
        SPARE_F32.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < 2 {
                s.push(v);
            }
        });
    }
}

/// A byte buffer for decoded pixels, reusing this thread's (hand it back with [`give_u8`]).
pub fn take_u8(len: usize) -> Vec<u8> {
    let mut v = SPARE_U8.with(|s| std::mem::take(&mut *s.borrow_mut()));
    v.clear();
    v.resize(len, 0);
    v
}

pub fn give_u8(v: Vec<u8>) {
    if v.capacity() <= SPARE_MAX {
        SPARE_U8.with(|s| *s.borrow_mut() = v);
    }
}

impl Luma {
    /// From 8-bit RGB samples, three bytes a pixel.
    ///
    /// # Panics
    /// When `rgb` does not hold `width * height` pixels.
    pub fn from_rgb8(rgb: &[u8], width: usize, height: usize) -> Luma {
        assert_eq!(
            rgb.len(),
            width * height * 3,
            "RGB buffer of the wrong size"
        );
        let w = weights();
        let mut values = take_f32(width * height);
        values.extend(
            rgb.chunks_exact(3)
                .map(|p| ((w.r[p[0] as usize] + w.g[p[1] as usize]) + w.b[p[2] as usize]) as f32),
        );
        Luma {
            width,
            height,
            values,
        }
    }

    /// From 8-bit grey levels, as if each were an RGB pixel with three equal channels (what a
    /// greyscale image becomes when the reference pipeline converts it to RGB).
    ///
    /// # Panics
    /// When `grey` does not hold `width * height` pixels.
    pub fn from_grey8(grey: &[u8], width: usize, height: usize) -> Luma {
        assert_eq!(grey.len(), width * height, "grey buffer of the wrong size");
        let w = weights();
        Luma {
            width,
            height,
            values: {
                let mut values = take_f32(width * height);
                values.extend(grey.iter().map(|&v| w.grey[v as usize]));
                values
            },
        }
    }
}

/// The PDQ hash and quality of an image, as the reference's `pdqhash.compute` gives them (a
/// 64x64 image is used as it is, without the box filter).
pub fn hash(luma: Luma) -> Pdq {
    if luma.width < MIN_DIMENSION || luma.height < MIN_DIMENSION {
        return Pdq {
            hash: PdqHash::default(),
            quality: 0,
        };
    }
    let small = bypassed(&luma).unwrap_or_else(|| blur_and_decimate(luma));
    pdq_of(&small, &dct16(&small))
}

/// The eight dihedral hashes and the quality, as the reference's `compute_dihedral` gives
/// them (which always applies the box filter: for a 64x64 image its first hash can differ from
/// [`hash`]'s in a few bits).
pub fn dihedral(luma: Luma) -> Dihedral {
    hash_and_dihedral(luma).1
}

/// [`hash`] and [`dihedral`] of one image, from one filter pass (two for a 64x64 image).
pub fn hash_and_dihedral(luma: Luma) -> (Pdq, Dihedral) {
    if luma.width < MIN_DIMENSION || luma.height < MIN_DIMENSION {
        let zero = PdqHash::default();
        return (
            Pdq {
                hash: zero,
                quality: 0,
            },
            Dihedral {
                hashes: [zero; 8],
                quality: 0,
            },
        );
    }
    let bypass = bypassed(&luma).map(|small| pdq_of(&small, &dct16(&small)));
    let small = blur_and_decimate(luma);
    let dct = dct16(&small);
    let mut hashes = [PdqHash::default(); 8];
    for (h, t) in hashes.iter_mut().zip(Transform::ALL) {
        *h = bits(&transformed(&dct, t));
    }
    let quality = quality(&small);
    let pdq = bypass.unwrap_or(Pdq {
        hash: hashes[0],
        quality,
    });
    (pdq, Dihedral { hashes, quality })
}

/// A 64x64 image as `compute` takes it, unfiltered; `None` for any other size.
fn bypassed(luma: &Luma) -> Option<Box<[[f32; 64]; 64]>> {
    if luma.width != 64 || luma.height != 64 {
        return None;
    }
    let mut a = Box::new([[0f32; 64]; 64]);
    for (row, values) in a.iter_mut().zip(luma.values.chunks_exact(64)) {
        row.copy_from_slice(values);
    }
    Some(a)
}

/// The hash and quality of a 64x64 image whose DCT is `dct`.
fn pdq_of(small: &[[f32; 64]; 64], dct: &[[f32; 16]; 16]) -> Pdq {
    Pdq {
        hash: bits(dct),
        quality: quality(small),
    }
}

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
fn blur_and_decimate(luma: Luma) -> Box<[[f32; 64]; 64]> {
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
fn dct16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
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

/// The reference's quality: the sum of neighbouring differences, each `(u - v) * 100 / 255`
/// truncated, over 90, at most 100.
fn quality(a: &[[f32; 64]; 64]) -> u8 {
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

/// One bit per coefficient strictly above the median.
fn bits(dct: &[[f32; 16]; 16]) -> PdqHash {
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
fn transformed(a: &[[f32; 16]; 16], t: Transform) -> [[f32; 16]; 16] {
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
    fn hex_round_trips_with_the_last_word_first() {
        let mut words = [0u16; 16];
        words[15] = 0xf8f8;
        words[0] = 0x9b22;
        let h = PdqHash(words);
        let hex = h.to_string();
        assert!(hex.starts_with("f8f8") && hex.ends_with("9b22"), "{hex}");
        assert_eq!(PdqHash::from_hex(&hex), Some(h));
        assert_eq!(PdqHash::from_bytes(&h.to_bytes()), h);
        assert_eq!(&h.to_bytes()[..2], &[0xf8, 0xf8]);
        assert_eq!(PdqHash::from_hex("xyz"), None);
        assert_eq!(PdqHash::from_hex(&"g".repeat(64)), None);
    }

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

    #[test]
    fn tiny_images_get_the_zero_hash_and_quality_0() {
        for (w, h) in [(4, 100), (100, 4), (1, 1)] {
            let luma = Luma::from_grey8(&vec![200; w * h], w, h);
            assert_eq!(
                hash(luma),
                Pdq {
                    hash: PdqHash::default(),
                    quality: 0
                }
            );
        }
        let d = dihedral(Luma::from_grey8(&[9; 16], 4, 4));
        assert_eq!(d.quality, 0);
        assert!(d.hashes.iter().all(|h| *h == PdqHash::default()));
    }
}
