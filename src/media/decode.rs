//! Image decoding for PDQ: a file's bytes to the luma plane the hash is computed on.
//!
//! JPEG goes through libjpeg-turbo's decoder (the `mozjpeg` crate), which can decode in the
//! DCT domain at 1/2, 1/4 or 1/8 of the size: PDQ averages a large photo down to 64x64 with a
//! box filter anyway, so [`JpegScale::Fast`] (on request) decodes a large JPEG at the smallest scale that
//! keeps both sides at [`FAST_MIN_SIDE`] pixels or more, and only its Y channel (JPEG's luma
//! has PDQ's weights, before RGB's rounding and clamping). Smaller JPEGs, and every JPEG with
//! [`JpegScale::Full`] (the default), are decoded to RGB as the reference pipeline does (libjpeg-turbo,
//! accurate integer IDCT, fancy upsampling: the pixels Pillow gives). PNG, GIF (the first frame), BMP, WebP and TIFF go through the `image` crate.
//!
//! Limits against decompression bombs: at most [`MAX_PIXELS`] pixels declared, checked from the
//! header before any pixel is decoded, and the `image` crate's allocation limit. A decoder that
//! panics on hostile input is caught; a JPEG libjpeg warns about (truncated or corrupt data it
//! would fill in with grey) is refused rather than hashed. Every failure is a [`DecodeError`]
//! with a reason, for the file's record.
//!
//! EXIF orientation is not applied (the reference does not; the dihedral hashes cover it).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::pdq::Luma;

/// The most pixels an image may declare (width x height): 200 megapixels, above any camera's.
pub const MAX_PIXELS: u64 = 200_000_000;

/// The most bytes the `image` crate may allocate for one image.
pub const MAX_ALLOC: u64 = 1 << 30;

/// The shorter side a fast JPEG decode keeps at least.
pub const FAST_MIN_SIDE: usize = 1024;

/// The decoders images go through, as items name them (`pdq_decoder`, scale aside), and what
/// each is, for a report's provenance. The versions are the locked dependencies' (a test
/// holds them to `Cargo.lock`).
pub const DECODERS: [(&str, &str); 2] = [
    (
        "libjpeg-turbo",
        "JPEG: libjpeg-turbo's decoder as MozJPEG 4 carries it, crates mozjpeg 0.10.13 and mozjpeg-sys 2.2.3",
    ),
    (
        "image-rs",
        "PNG, GIF, BMP, WebP, TIFF and CMYK JPEG: crate image 0.25.9",
    ),
];

/// How large JPEGs are decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JpegScale {
    /// In the DCT domain at a reduced scale when the image is large, luma only: 2-3x faster on
    /// camera photos, within 8 bits of the reference there but with a mean distance that can
    /// exceed 2 bits (`docs/benchmarks.md`), so not the default.
    Fast,
    /// Every pixel, to RGB, as the reference pipeline decodes: the reference's hashes.
    #[default]
    Full,
}

impl JpegScale {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            JpegScale::Fast => "fast",
            JpegScale::Full => "full",
        }
    }
}

/// The pixels an image decoded to, as PDQ luma, and how they were obtained.
pub struct Decoded {
    pub luma: Luma,
    /// The size the image declares.
    pub width: usize,
    pub height: usize,
    /// The decoder used and the scale, for the report's provenance ("libjpeg-turbo 1/4").
    pub decoder: &'static str,
    /// The denominator of the scale the JPEG was decoded at (1 for every other format).
    pub scale: u8,
}

/// Why an image has no PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("not an image format hashsift decodes ({0})")]
    Unsupported(Reason),
    #[error("declares {width}x{height} pixels, over the limit of {MAX_PIXELS}")]
    TooLarge { width: u64, height: u64 },
    #[error("cannot be decoded: {0}")]
    Corrupt(Reason),
    #[error("the file is {0} bytes, over the {max} bytes decoded", max = super::MAX_IMAGE_FILE)]
    FileTooLarge(u64),
    #[error("cannot be read: {0}")]
    Read(Reason),
}

/// A decoder's message. Cheap to clone: images failing alike share one failure record
/// ([`super::ImageHash::failed_shared`]), keyed by the error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason(std::sync::Arc<str>);

/// How many distinct failures are shared; past that (hostile input making every message
/// different) each is kept on its own, as it would be without sharing.
pub const SHARED_REASONS: usize = 4096;

impl Reason {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Reason {
    fn from(s: String) -> Reason {
        Reason(s.into())
    }
}

impl From<&str> for Reason {
    fn from(s: &str) -> Reason {
        Reason::from(s.to_owned())
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The format of `bytes`, from its first bytes.
fn format_of(bytes: &[u8]) -> Option<image::ImageFormat> {
    image::guess_format(bytes).ok()
}

/// Decodes an image file's content to PDQ luma.
///
/// # Errors
/// [`DecodeError`] for formats not decoded, images over the limits and damaged data.
pub fn decode(bytes: &[u8], scale: JpegScale) -> Result<Decoded, DecodeError> {
    let format = format_of(bytes).ok_or_else(|| DecodeError::Unsupported("unknown".into()))?;
    quiet_panics();
    DECODING.with(|d| d.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| match format {
        image::ImageFormat::Jpeg => decode_jpeg(bytes, scale),
        image::ImageFormat::Png
        | image::ImageFormat::Gif
        | image::ImageFormat::Bmp
        | image::ImageFormat::WebP
        | image::ImageFormat::Tiff => decode_other(bytes, format),
        other => Err(DecodeError::Unsupported(format!("{other:?}").into())),
    }));
    DECODING.with(|d| d.set(false));
    outcome.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the decoder failed".into());
        Err(DecodeError::Corrupt(why.into()))
    })
}

thread_local! {
    /// Whether this thread is inside a decoder, where a panic is an image's error.
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that keeps quiet about panics inside a decoder: hostile input
/// making a decoder panic is caught and becomes the image's reason, and should not print a
/// panic message over the progress display. Every other panic is reported as before.
fn quiet_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

fn check_size(width: u64, height: u64) -> Result<(), DecodeError> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

thread_local! {
    /// The first warning libjpeg gave while decoding on this thread.
    static JPEG_WARNING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The size of the buffer libjpeg formats a message into (`jpeglib.h`).
const JMSG_LENGTH_MAX: usize = 200;

/// libjpeg's message for the error or warning it holds.
fn jpeg_message(cinfo: &mut mozjpeg_sys::jpeg_common_struct) -> String {
    // SAFETY: libjpeg calls the handlers with a valid struct whose `err` it set up.
    unsafe {
        let err = &*cinfo.err;
        match err.format_message {
            Some(format) => {
                // The binding declares the buffer `&[u8; 80]`, but libjpeg writes the message
                // into it, up to JMSG_LENGTH_MAX (200) bytes: called through a shared
                // reference, the compiler may take the buffer to stay zeroed (and did: empty
                // messages). The same function, given a pointer to a buffer of libjpeg's size
                // that it may write.
                type Format =
                    unsafe extern "C-unwind" fn(&mut mozjpeg_sys::jpeg_common_struct, *mut u8);
                let format: Format = std::mem::transmute(format);
                let mut buffer = [0u8; JMSG_LENGTH_MAX];
                format(cinfo, buffer.as_mut_ptr());
                let end = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
                String::from_utf8_lossy(&buffer[..end]).into_owned()
            }
            None => format!("libjpeg message {}", err.msg_code),
        }
    }
}

extern "C-unwind" fn jpeg_fatal(cinfo: &mut mozjpeg_sys::jpeg_common_struct) {
    let message = jpeg_message(cinfo);
    // Unwinds out of libjpeg (the crate is built for it) to the catch in `decode`.
    std::panic::resume_unwind(Box::new(message));
}

extern "C-unwind" fn jpeg_emit(cinfo: &mut mozjpeg_sys::jpeg_common_struct, level: i32) {
    // Level -1 is a warning (corrupt data, a premature end); higher levels are trace messages.
    if level < 0 {
        let message = jpeg_message(cinfo);
        JPEG_WARNING.with(|w| {
            w.borrow_mut().get_or_insert(message);
        });
    }
}

fn jpeg_error_mgr() -> mozjpeg_sys::jpeg_error_mgr {
    // SAFETY: a zeroed struct is what jpeg_std_error expects to fill in.
    let mut err: mozjpeg_sys::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
    err.error_exit = Some(jpeg_fatal);
    err.emit_message = Some(jpeg_emit);
    err
}

/// The scale numerator (of 8) for a fast decode: the smallest that keeps the shorter side at
/// [`FAST_MIN_SIDE`] or more (libjpeg rounds scaled sizes up).
fn fast_numerator(width: usize, height: usize) -> u8 {
    let short = width.min(height);
    for numerator in [1u8, 2, 4] {
        if short.div_ceil(8 / numerator as usize) >= FAST_MIN_SIDE {
            return numerator;
        }
    }
    8
}

fn decode_jpeg(bytes: &[u8], scale: JpegScale) -> Result<Decoded, DecodeError> {
    JPEG_WARNING.with(|w| w.borrow_mut().take());
    let corrupt = |e: std::io::Error| DecodeError::Corrupt(e.to_string().into());
    let mut d = mozjpeg::decompress::DecompressBuilder::new()
        .with_err(jpeg_error_mgr())
        .from_mem(bytes)
        .map_err(corrupt)?;
    let (width, height) = d.size();
    check_size(width as u64, height as u64)?;
    // libjpeg converts YCbCr and greyscale; CMYK and YCCK it cannot turn into RGB or luma.
    let cmyk = matches!(
        d.color_space(),
        mozjpeg_sys::J_COLOR_SPACE::JCS_CMYK | mozjpeg_sys::J_COLOR_SPACE::JCS_YCCK
    );
    if cmyk {
        drop(d);
        return decode_other(bytes, image::ImageFormat::Jpeg);
    }
    let numerator = match scale {
        JpegScale::Fast => fast_numerator(width, height),
        JpegScale::Full => 8,
    };
    d.scale(numerator);
    d.dct_method(mozjpeg::DctMethod::IntegerSlow);
    // A scaled decode takes only the Y channel: chroma would cost more than the reduced IDCT
    // saves. At full size the pixels are decoded to RGB as the reference pipeline does.
    let luma = if numerator < 8 {
        let mut s = d.grayscale().map_err(corrupt)?;
        let (w, h) = (s.width(), s.height());
        let mut grey = super::pdq::take_u8(w * h);
        s.read_scanlines_into(&mut grey).map_err(corrupt)?;
        s.finish().map_err(corrupt)?;
        // JPEG's Y is PDQ's luma; taken as a grey level it goes through the same table.
        let luma = Luma::from_grey8(&grey, w, h);
        super::pdq::give_u8(grey);
        luma
    } else {
        d.do_fancy_upsampling(true);
        let mut s = d.rgb().map_err(corrupt)?;
        let (w, h) = (s.width(), s.height());
        let mut rgb = super::pdq::take_u8(w * h * 3);
        s.read_scanlines_into(&mut rgb).map_err(corrupt)?;
        s.finish().map_err(corrupt)?;
        let luma = Luma::from_rgb8(&rgb, w, h);
        super::pdq::give_u8(rgb);
        luma
    };
    if let Some(warning) = JPEG_WARNING.with(|w| w.borrow_mut().take()) {
        return Err(DecodeError::Corrupt(
            format!("damaged JPEG data: {warning}").into(),
        ));
    }
    if luma.values.len() != luma.width * luma.height {
        return Err(DecodeError::Corrupt("short JPEG scanlines".into()));
    }
    Ok(Decoded {
        luma,
        width,
        height,
        decoder: match 8 / numerator {
            1 => "libjpeg-turbo",
            2 => "libjpeg-turbo 1/2",
            4 => "libjpeg-turbo 1/4",
            _ => "libjpeg-turbo 1/8",
        },
        scale: 8 / numerator,
    })
}

fn decode_other(bytes: &[u8], format: image::ImageFormat) -> Result<Decoded, DecodeError> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| DecodeError::Corrupt(e.to_string().into()))?;
    check_size(u64::from(width), u64::from(height))?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| DecodeError::Corrupt(e.to_string().into()))?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let luma = match image {
        image::DynamicImage::ImageLuma8(g) => Luma::from_grey8(g.as_raw(), w, h),
        other => Luma::from_rgb8(other.into_rgb8().as_raw(), w, h),
    };
    Ok(Decoded {
        luma,
        width: width as usize,
        height: height as usize,
        decoder: "image-rs",
        scale: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_provenance_names_the_locked_versions() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
            .expect("Cargo.lock");
        for (_, what) in DECODERS {
            for named in what.split(", ").flat_map(|part| {
                let words: Vec<&str> = part.split(' ').collect();
                words
                    .windows(2)
                    .filter(|w| w[1].starts_with(|c: char| c.is_ascii_digit()))
                    .map(|w| (w[0].to_owned(), w[1].to_owned()))
                    .collect::<Vec<_>>()
            }) {
                let (name, version) = named;
                if name == "MozJPEG" {
                    continue; // the C library's major version, not a crate
                }
                let entry = format!("name = \"{name}\"\nversion = \"{version}\"\n");
                assert!(
                    lock.contains(&entry),
                    "{name} {version} is not the locked version"
                );
            }
        }
    }

    #[test]
    fn fast_scale_keeps_the_shorter_side_at_1024() {
        assert_eq!(fast_numerator(4000, 3000), 4); // 2000x1500
        assert_eq!(fast_numerator(8192, 8192), 1); // 1024x1024
        assert_eq!(fast_numerator(8185, 8185), 1); // rounded up: 1024x1024
        assert_eq!(fast_numerator(8184, 9000), 2);
        assert_eq!(fast_numerator(2048, 4096), 4);
        assert_eq!(fast_numerator(2047, 3000), 4); // 1024x1500
        assert_eq!(fast_numerator(2046, 3000), 8);
        assert_eq!(fast_numerator(640, 480), 8);
    }

    /// A synthetic picture encoded by the `image` crate's encoders.
    fn encoded(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    #[test]
    fn whole_images_decode_at_their_size() {
        for format in [
            image::ImageFormat::Jpeg,
            image::ImageFormat::Png,
            image::ImageFormat::Gif,
            image::ImageFormat::Bmp,
            image::ImageFormat::Tiff,
        ] {
            let d = decode(&encoded(format, 300, 200), JpegScale::Fast)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((d.width, d.height), (300, 200), "{format:?}");
            assert_eq!(d.luma.values.len(), 300 * 200, "{format:?}");
        }
    }

    #[test]
    fn damaged_and_hostile_images_are_errors_with_a_reason() {
        let jpeg = encoded(image::ImageFormat::Jpeg, 300, 200);
        // Cut in the middle of the scan: libjpeg would fill in grey and warn.
        let truncated = &jpeg[..jpeg.len() / 2];
        let err = decode(truncated, JpegScale::Fast)
            .err()
            .expect("truncated JPEG refused");
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err}");
        assert_has_reason(&err);
        // The SOF0 marker's height and width patched to 65,000 x 65,000: refused from the header.
        let mut huge = jpeg.clone();
        let sof = huge
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("SOF0");
        huge[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        assert_eq!(
            decode(&huge, JpegScale::Fast).err(),
            Some(DecodeError::TooLarge {
                width: 65_000,
                height: 65_000
            })
        );
        // A JPEG signature followed by noise.
        let mut noise = vec![0xFF, 0xD8, 0xFF, 0xE0];
        let mut x = 7u32;
        noise.extend((0..5000).map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        }));
        let err = decode(&noise, JpegScale::Fast)
            .err()
            .expect("noise refused");
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err}");
        assert_has_reason(&err);
        // Truncated PNG, GIF and BMP.
        for format in [
            image::ImageFormat::Png,
            image::ImageFormat::Gif,
            image::ImageFormat::Bmp,
        ] {
            let bytes = encoded(format, 300, 200);
            let cut = &bytes[..bytes.len() / 2];
            let err = decode(cut, JpegScale::Fast)
                .err()
                .expect("truncated image refused");
            assert!(matches!(err, DecodeError::Corrupt(_)), "{format:?}: {err}");
            assert_has_reason(&err);
        }
    }

    /// A decoder's message is there: the examiner reads why.
    fn assert_has_reason(err: &DecodeError) {
        let reason = match err {
            DecodeError::Corrupt(r) | DecodeError::Unsupported(r) | DecodeError::Read(r) => r,
            _ => return,
        };
        assert!(reason.as_str().trim().len() > 5, "no reason given: {err:?}");
    }

    #[test]
    fn not_an_image_is_unsupported() {
        assert!(matches!(
            decode(b"plain text", JpegScale::Fast),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
