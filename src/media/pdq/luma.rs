//! Luma as the reference computes it from 8-bit RGB or grey, and the buffers a thread keeps
//! between images.

use std::sync::OnceLock;

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
pub(super) fn take_f32(capacity: usize) -> Vec<f32> {
    let mut v = SPARE_F32.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.reserve(capacity);
    v
}

pub(super) fn give_f32(v: Vec<f32>) {
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
