//! Bit-exact port of Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit RGB images.
//!
//! Pillow resamples with a separable, antialiased convolution:
//!
//! 1. For each axis it computes, per output pixel, a window of input pixels and normalised
//!    triangle-filter weights (in `f64`), with the filter widened by the downscale factor.
//! 2. The weights are converted to fixed point with [`PRECISION_BITS`] fractional bits.
//! 3. Two passes, each rounding to `u8`; an axis whose size does not change is skipped. Normally
//!    the horizontal pass runs first (only over the input rows the vertical pass reads). Pillow 13
//!    (python-pillow/Pillow#9549) runs the **vertical pass first** when the height shrinks by more
//!    than twice as many pixels as the width: `oh < ih && ih - oh > 2 * (iw - ow)`. That rule was
//!    inferred by experiment against Pillow 13.0.0 (the oracle's version; 8352 size pairs, no
//!    exception). Older Pillow always goes horizontal first; the order changes results by at most
//!    one level.
//! 4. Each output sample is `clip((2^(P-1) + sum(pixel * weight)) >> P)` in `i32`.

use image::RgbImage;

/// Fixed-point fraction bits Pillow uses for 8-bit images: `32 - 8 - 2`.
pub const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Half-width of Pillow's bilinear (triangle) filter at scale 1.
const BILINEAR_SUPPORT: f64 = 1.0;

/// Pillow's `bilinear_filter`: the triangle `max(0, 1 - |x|)`.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// Per-axis resampling plan: for output index `i`, input pixels `start[i] .. start[i] + len[i]`
/// weighted by `weights[i * ksize ..][.. len[i]]` (fixed point).
struct AxisCoeffs {
    ksize: usize,
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<i32>,
}

impl AxisCoeffs {
    /// Pillow's `precompute_coeffs` for the box `[in0, in1)` of an axis of `in_size` pixels,
    /// followed by `normalize_coeffs_8bpc`. Every step uses Pillow's `f64` expression order.
    fn new(in_size: usize, in0: f64, in1: f64, out_size: usize) -> Self {
        let scale = (in1 - in0) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = BILINEAR_SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut start = Vec::with_capacity(out_size);
        let mut len = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = in0 + (xx as f64 + 0.5) * scale;
            // C casts truncate toward zero; negative values are then clamped to 0.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let n = (xmax - xmin).clamp(0, ksize as i64) as usize;
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(n) {
                let w = triangle(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            let row = &mut weights[xx * ksize..xx * ksize + ksize];
            for (dst, &w) in row.iter_mut().zip(&k[..n]) {
                let w = if ww != 0.0 { w / ww } else { w };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                *dst = if w < 0.0 {
                    (-0.5 + fixed) as i32
                } else {
                    (0.5 + fixed) as i32
                };
            }
            start.push(xmin as usize);
            len.push(n);
        }
        AxisCoeffs {
            ksize,
            start,
            len,
            weights,
        }
    }

    /// Input pixels and fixed-point weights for output index `i`.
    fn window(&self, i: usize) -> (usize, &[i32]) {
        let w = &self.weights[i * self.ksize..i * self.ksize + self.len[i]];
        (self.start[i], w)
    }
}

/// Pillow's `clip8`: round-shifted accumulator to `u8`.
fn clip8(acc: i32) -> u8 {
    if acc >= (1 << PRECISION_BITS) << 8 {
        255
    } else if acc <= 0 {
        0
    } else {
        (acc >> PRECISION_BITS) as u8
    }
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass over rows `row0 .. row0 + rows` of `src` (`src_w` wide, RGB).
fn horizontal(src: &[u8], src_w: usize, row0: usize, rows: usize, c: &AxisCoeffs) -> Vec<u8> {
    let out_w = c.start.len();
    let mut out = vec![0u8; out_w * rows * 3];
    for (yy, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let in_row = &src[(row0 + yy) * src_w * 3..(row0 + yy + 1) * src_w * 3];
        for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (xmin, k) = c.window(xx);
            let mut acc = [HALF; 3];
            for (x, &w) in k.iter().enumerate() {
                let p = &in_row[(xmin + x) * 3..(xmin + x) * 3 + 3];
                for ch in 0..3 {
                    acc[ch] += i32::from(p[ch]) * w;
                }
            }
            for ch in 0..3 {
                px[ch] = clip8(acc[ch]);
            }
        }
    }
    out
}

/// Vertical pass: `src` is `w` wide; row windows are relative to `src`'s first row.
fn vertical(src: &[u8], w: usize, c: &AxisCoeffs) -> Vec<u8> {
    let out_h = c.start.len();
    let stride = w * 3;
    let mut out = vec![0u8; stride * out_h];
    for (yy, out_row) in out.chunks_exact_mut(stride).enumerate() {
        let (ymin, k) = c.window(yy);
        for (i, dst) in out_row.iter_mut().enumerate() {
            let mut acc = HALF;
            for (y, &wt) in k.iter().enumerate() {
                acc += i32::from(src[(ymin + y) * stride + i]) * wt;
            }
            *dst = clip8(acc);
        }
    }
    out
}

/// Pillow's `Image.resize((width, height), Image.BILINEAR)` on an RGB image, bit for bit.
///
/// This is the antialiased resampler (filter support `1.0 * max(in/out, 1)`), not a plain
/// 4-tap bilinear: when shrinking, each output pixel averages all input pixels under the widened
/// triangle. Same size in returns an unchanged copy, as Pillow does. A zero `width`/`height` (which
/// Pillow refuses) or an empty input gives a black image of the requested size.
///
/// # Shapes
///
/// `img` is `W x H` (row-major RGB8); the result is `width x height` (row-major RGB8).
pub fn pil_resize_bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let (out_w, out_h) = (width as usize, height as usize);
    if (in_w, in_h) == (out_w, out_h) {
        return img.clone();
    }
    if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
        return RgbImage::new(width, height);
    }
    // Pillow: the box is the whole image; an axis is resampled only if its size changes.
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    let horiz = AxisCoeffs::new(in_w, 0.0, in_w as f64, out_w);
    let mut vert = AxisCoeffs::new(in_h, 0.0, in_h as f64, out_h);
    let src = img.as_raw().as_slice();
    let out = if need_h && need_v && vertical_first(in_w, in_h, out_w, out_h) {
        let tmp = vertical(src, in_w, &vert);
        horizontal(&tmp, in_w, 0, out_h, &horiz)
    } else if need_h {
        // Rows the vertical pass reads: from the first window's start to the last window's end.
        let row_first = vert.start[0];
        let row_last = vert.start[out_h - 1] + vert.len[out_h - 1];
        for s in &mut vert.start {
            *s -= row_first;
        }
        let tmp = horizontal(src, in_w, row_first, row_last - row_first, &horiz);
        if need_v {
            vertical(&tmp, out_w, &vert)
        } else {
            tmp
        }
    } else {
        vertical(src, in_w, &vert)
    };
    // Both passes produce exactly width * height * 3 samples.
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// Pillow 13's pass-order rule: vertical first iff the height shrinks, and by more than twice as
/// many pixels as the width does.
fn vertical_first(in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> bool {
    let dh = in_h as i64 - out_h as i64;
    let dw = in_w as i64 - out_w as i64;
    dh > 0 && dh > 2 * dw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(w: u32, h: u32, v: &[u8]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([v[(y * w + x) as usize]; 3]))
    }

    fn channel0(img: &RgbImage) -> Vec<u8> {
        img.pixels().map(|p| p.0[0]).collect()
    }

    #[test]
    fn upscale_2x2_to_4x4_by_hand() {
        // Upscaling by 2: support 1, centres at (i + 0.5) / 2 = .25, .75, 1.25, 1.75. Windows
        // are [trunc(c - .5), trunc(c + 1.5)) clipped to the image: output 0 and 3 see one pixel
        // (weight 1), outputs 1 and 2 see both with weights (.75, .25) and (.25, .75).
        let img = gray(2, 2, &[0, 200, 100, 40]);
        let out = pil_resize_bilinear(&img, 4, 4);
        // Horizontal: row0 [0, 50, 150, 200], row1 [100, 85, 55, 40].
        // Vertical weights per output row: 1 (edge: only row 0 has weight), .75/.25, .25/.75, 1.
        #[rustfmt::skip]
        let expect = [
            0, 50, 150, 200,
            25, 59, 126, 160, // 0.75*row0 + 0.25*row1, rounded half up
            75, 76, 79, 80,
            100, 85, 55, 40,
        ];
        assert_eq!(channel0(&out), expect);
    }

    #[test]
    fn downscale_box_average() {
        // 4 -> 2 horizontally: scale 2, support 2, each output averages a 4-wide triangle.
        let img = gray(4, 1, &[0, 100, 200, 40]);
        let out = pil_resize_bilinear(&img, 2, 1);
        // Output 0: centre 1, window x in 0..3 (x=3 outside: xmax = trunc(1+2+0.5)=3),
        // weights tri((x - 1 + .5)/2) = .75, .75, .25 -> (0*.75 + 100*.75 + 200*.25)/1.75 = 71.43.
        // Output 1: centre 3, window 1..4, weights .25, .75, .75 -> (25 + 150 + 30)/1.75 = 117.14.
        assert_eq!(channel0(&out), [71, 117]);
    }

    /// The test pattern the Pillow vectors below were made from (by Pillow 13.0.0).
    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb(std::array::from_fn(|c| {
                (((x * 37 + y * 91 + c as u32 * 53) ^ (x * y * 7)) % 256) as u8
            }))
        })
    }

    #[test]
    fn pass_order_matches_pillow_13() {
        // Red channel of `Image.resize((ow, oh), BILINEAR)` in Pillow 13.0.0. In each case the two
        // pass orders give different results; the first and third run vertical first.
        #[rustfmt::skip]
        let cases: [(u32, u32, u32, u32, &[u8]); 3] = [
            (8, 12, 7, 5, &[
                85, 114, 118, 161, 131, 120, 104, 100, 116, 114, 156, 144, 155, 157, 123, 138,
                121, 146, 100, 153, 100, 141, 138, 112, 141, 142, 170, 134, 154, 136, 95, 81, 69,
                103, 160,
            ]),
            (12, 8, 5, 7, &[
                50, 129, 149, 72, 124, 138, 158, 96, 152, 164, 116, 102, 145, 169, 150, 90, 157,
                172, 145, 117, 158, 130, 131, 136, 128, 102, 121, 96, 66, 85, 131, 156, 163, 96,
                39,
            ]),
            (9, 10, 13, 4, &[
                79, 99, 114, 106, 126, 153, 183, 124, 110, 127, 108, 117, 135, 100, 113, 120,
                105, 121, 146, 176, 139, 140, 168, 156, 154, 157, 115, 134, 139, 102, 139, 155,
                133, 97, 121, 177, 109, 97, 109, 135, 144, 134, 81, 119, 141, 126, 156, 169, 165,
                137, 134, 142,
            ]),
        ];
        for (w, h, ow, oh, want) in cases {
            let out = pil_resize_bilinear(&pattern(w, h), ow, oh);
            assert_eq!(channel0(&out), want, "{w}x{h} -> {ow}x{oh}");
        }
        assert!(vertical_first(8, 12, 7, 5));
        assert!(!vertical_first(12, 8, 5, 7));
        assert!(!vertical_first(100, 100, 55, 10)); // 90 == 2 * 45: not strictly more
        assert!(vertical_first(100, 100, 55, 9));
        assert!(!vertical_first(439, 400, 561, 512)); // the height grows
    }

    #[test]
    fn identity_and_constant() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 9]));
        assert_eq!(pil_resize_bilinear(&img, 7, 5), img);
        let flat = RgbImage::from_pixel(13, 9, image::Rgb([255, 0, 77]));
        for (w, h) in [(5, 4), (31, 20), (13, 30), (2, 9)] {
            let out = pil_resize_bilinear(&flat, w, h);
            assert!(out.pixels().all(|p| p.0 == [255, 0, 77]), "{w}x{h}");
        }
        assert_eq!(pil_resize_bilinear(&flat, 0, 3).dimensions(), (0, 3));
    }
}
