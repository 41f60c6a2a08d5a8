//! Black bars around a frame's picture (a letterbox above and below, a pillarbox left and right,
//! as a copy made for another screen shape gets them): where the picture is inside them, so
//! that it can be hashed again without them for matching. PDQ sees bars as part of the picture,
//! so a copy with bars is far from the original (the reference matcher scores it 0%).

/// A channel value above this is not black (compression leaves black at 0-20).
const DARK: u8 = 40;

/// The picture inside the black bars of the RGB frame `rgb` (`width` x `height`, three bytes a
/// pixel) as `(x, y, width, height)`, when bars take at least 1/25 of a side and leave at least
/// half of each; `None` when there are none (or the frame is all dark).
pub fn inner(rgb: &[u8], width: usize, height: usize) -> Option<(usize, usize, usize, usize)> {
    if width == 0 || height == 0 || rgb.len() < width * height * 3 {
        return None;
    }
    let lit = |x: usize, y: usize| {
        let p = &rgb[(y * width + x) * 3..][..3];
        p[0].max(p[1]).max(p[2]) > DARK
    };
    // A line is a bar when at most 1% of its pixels are lit (noise, a logo's edge).
    let dark_row = |y: &usize| (0..width).filter(|&x| lit(x, *y)).count() <= width / 100;
    let dark_col = |x: &usize| (0..height).filter(|&y| lit(*x, y)).count() <= height / 100;
    let top = (0..height).take_while(dark_row).count();
    if top == height {
        return None;
    }
    let bottom = (0..height).rev().take_while(dark_row).count();
    let left = (0..width).take_while(dark_col).count();
    let right = (0..width).rev().take_while(dark_col).count();
    // Lines dark by the 1% allowance can meet in a dim frame: no picture between them.
    if top + bottom >= height || left + right >= width {
        return None;
    }
    let (w, h) = (width - left - right, height - top - bottom);
    let barred = (top + bottom) * 25 >= height || (left + right) * 25 >= width;
    (barred && w * 2 >= width && h * 2 >= height && w >= 5 && h >= 5).then_some((left, top, w, h))
}

/// The RGB pixels of the rectangle `(x, y, w, h)` of a frame `width` pixels wide.
pub fn crop(rgb: &[u8], width: usize, (x, y, w, h): (usize, usize, usize, usize)) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for row in y..y + h {
        let start = (row * width + x) * 3;
        out.extend_from_slice(&rgb[start..start + w * 3]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w` x `h` picture of varied colours, inside bars of `top`/`side` black lines with some
    /// compression noise.
    fn framed(w: usize, h: usize, top: usize, side: usize) -> (Vec<u8>, usize, usize) {
        let (fw, fh) = (w + 2 * side, h + 2 * top);
        let mut rgb = vec![0u8; fw * fh * 3];
        for y in 0..fh {
            for x in 0..fw {
                let p = &mut rgb[(y * fw + x) * 3..][..3];
                if y >= top && y < top + h && x >= side && x < side + w {
                    let (u, v) = (x - side, y - top);
                    p.copy_from_slice(&[(u * 7 % 200 + 50) as u8, (v * 3 % 256) as u8, 99]);
                } else {
                    p.copy_from_slice(&[((x + y) % 17) as u8, 5, 12]);
                }
            }
        }
        (rgb, fw, fh)
    }

    #[test]
    fn letterbox_and_pillarbox_are_found_and_nothing_else() {
        let (rgb, w, h) = framed(320, 180, 30, 0);
        assert_eq!(inner(&rgb, w, h), Some((0, 30, 320, 180)));
        let (rgb, w, h) = framed(240, 180, 0, 40);
        assert_eq!(inner(&rgb, w, h), Some((40, 0, 240, 180)));
        // Two lines of black: not bars worth removing.
        let (rgb, w, h) = framed(320, 180, 2, 0);
        assert_eq!(inner(&rgb, w, h), None);
        // All dark (a fade to black).
        let (rgb, w, h) = framed(0, 0, 50, 50);
        assert_eq!(inner(&rgb, w, h), None);
        // Dim: one row with three lit pixels is lit, and every column dark within its
        // allowance: no picture between the bars.
        let mut rgb = vec![0u8; 200 * 200 * 3];
        for x in [10, 90, 150] {
            rgb[(100 * 200 + x) * 3] = 255;
        }
        assert_eq!(inner(&rgb, 200, 200), None);
        // The picture without its bars is the picture.
        let (rgb, w, h) = framed(64, 48, 8, 0);
        let r = inner(&rgb, w, h).unwrap();
        assert_eq!(crop(&rgb, w, r), framed(64, 48, 0, 0).0);
    }
}
