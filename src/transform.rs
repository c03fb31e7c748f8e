//! The model's input transform: torchvision's `GeneralizedRCNNTransform` as the authors' code
//! runs it (normalise, then resize, then zero-pad), with torch's float32 arithmetic.
//!
//! # Layout
//!
//! Tensors are `Vec<f32>` in `[3, H, W]` row-major order (channel planes R, G, B), the layout of
//! `ToTensor()` without the batch dimension.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Settings of the input transform. [`Default`] gives the paper's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformConfig {
    /// Target length of the shorter side (512).
    pub min_size: usize,
    /// Upper bound on the longer side after resizing (1024).
    pub max_size: usize,
    /// Per-channel mean subtracted from `u8 / 255` (ImageNet: 0.485, 0.456, 0.406).
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by (ImageNet: 0.229, 0.224, 0.225).
    pub std: [f32; 3],
    /// The padded height and width are multiples of this (32).
    pub size_divisible: usize,
}

impl Default for TransformConfig {
    fn default() -> Self {
        TransformConfig {
            min_size: 512,
            max_size: 1024,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            size_divisible: 32,
        }
    }
}

impl TransformConfig {
    /// This transform with the shorter side of an `h x w` image resized by `factor` (about)
    /// instead of to `min_size`: `factor = 1.0` keeps the image's own pixel size, with no
    /// resampling at all. The longer side is not capped.
    pub fn scaled_by(&self, h: usize, w: usize, factor: f64) -> Self {
        let short = h.min(w).max(1) as f64;
        TransformConfig {
            min_size: ((short * factor).round() as usize).max(1),
            max_size: usize::MAX / 2,
            ..self.clone()
        }
    }
}

/// A transformed image, ready for the backbone.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// Normalised, resized, zero-padded image, `[3, padded[0], padded[1]]` row-major. The padding
    /// is 0 in normalised space (the mean colour, not black).
    pub data: Vec<f32>,
    /// `[h, w]` of `data`: the resized size rounded up to multiples of `size_divisible`. Anchors
    /// and feature strides use this size.
    pub padded: [usize; 2],
    /// `[h, w]` after resizing, before padding (torchvision's `image_sizes`). Boxes are clipped to
    /// this size.
    pub resized: [usize; 2],
    /// `[h, w]` of the input image. Detections map back by `original / resized` per axis.
    pub original: [usize; 2],
    /// The resize factor (Python `float`, rounded to `f32` here; 1.0 means no resize).
    pub scale: f32,
}

/// Resize factor and output size `(scale, out_h, out_w)` for an `h x w` image.
///
/// As the authors' transform: `scale = min_size / min(h, w)`, replaced by `max_size / max(h, w)`
/// when `max(h, w) * scale > max_size`; all in `f64` (Python floats). The output size is
/// `floor(h * scale) x floor(w * scale)`, as `F.interpolate(scale_factor=..)` computes it.
pub fn resize_plan(h: usize, w: usize, cfg: &TransformConfig) -> (f64, usize, usize) {
    if h == 0 || w == 0 {
        return (1.0, h, w);
    }
    let (short, long) = (h.min(w) as f64, h.max(w) as f64);
    let mut scale = cfg.min_size as f64 / short;
    if long * scale > cfg.max_size as f64 {
        scale = cfg.max_size as f64 / long;
    }
    let out = |n: usize| (n as f64 * scale).floor() as usize;
    (scale, out(h), out(w))
}

/// Normalises, resizes and pads `img` exactly like the oracle (modern torch resize semantics).
///
/// 1. `x = u8 / 255` (f32), then `(x - mean[c]) / std[c]`.
/// 2. Bilinear resize by [`resize_plan`]'s factor with modern `F.interpolate(scale_factor=s,
///    align_corners=False)` semantics: the source coordinate is `(dst + 0.5) * (1/s) - 0.5`,
///    using the given factor, not `in/out`. Skipped when `s == 1.0`.
/// 3. Zero padding at the bottom and right up to multiples of `size_divisible`.
///
/// An empty image (or a configuration that resizes to nothing) gives empty `data`.
///
/// # Shapes
///
/// `W x H` RGB8 in; `data` is `[3, Hp, Wp]` with `Hp, Wp` the padded `floor(H*s), floor(W*s)`.
pub fn preprocess(img: &RgbImage, cfg: &TransformConfig) -> Preprocessed {
    run(img, cfg, ResizeSemantics::Modern)
}

/// As [`preprocess`], but with torch 1.1's resize semantics (the authors' environment).
///
/// The output size is the same `floor(H*s) x floor(W*s)`, but the source coordinate uses the
/// ratio `in/out` per axis: `(dst + 0.5) * (in/out) - 0.5`. This equals modern torch with
/// `recompute_scale_factor=True`, whose float32 arithmetic is used here. For the 400x439 test
/// slice it differs from [`preprocess`] by up to ~1.4 in normalised units at the right edge.
pub fn preprocess_legacy_resize(img: &RgbImage, cfg: &TransformConfig) -> Preprocessed {
    run(img, cfg, ResizeSemantics::Legacy)
}

#[derive(Clone, Copy, PartialEq)]
enum ResizeSemantics {
    Modern,
    Legacy,
}

fn run(img: &RgbImage, cfg: &TransformConfig, sem: ResizeSemantics) -> Preprocessed {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (scale, out_h, out_w) = resize_plan(h, w, cfg);
    let normalised = normalise(img, cfg);
    let resized = if scale == 1.0 || out_h == 0 || out_w == 0 {
        // torch copies when a scale of 1 leaves the size unchanged.
        if out_h == h && out_w == w {
            normalised
        } else {
            Vec::new()
        }
    } else {
        let ratio = |n_in: usize, n_out: usize| match sem {
            ResizeSemantics::Modern => (1.0 / scale) as f32,
            ResizeSemantics::Legacy => n_in as f32 / n_out as f32,
        };
        let ry = axis_taps(h, out_h, ratio(h, out_h));
        let rx = axis_taps(w, out_w, ratio(w, out_w));
        interpolate(&normalised, h, w, &ry, &rx)
    };
    let (out_h, out_w) = if resized.is_empty() {
        (0, 0)
    } else {
        (out_h, out_w)
    };
    let div = cfg.size_divisible.max(1);
    let (ph, pw) = (out_h.div_ceil(div) * div, out_w.div_ceil(div) * div);
    Preprocessed {
        data: pad(&resized, out_h, out_w, ph, pw),
        padded: [ph, pw],
        resized: [out_h, out_w],
        original: [h, w],
        scale: scale as f32,
    }
}

/// `[3, H, W]` planes of `(u8 / 255 - mean[c]) / std[c]`, in torch's f32 operation order.
fn normalise(img: &RgbImage, cfg: &TransformConfig) -> Vec<f32> {
    let plane = img.width() as usize * img.height() as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            let x = f32::from(p.0[c]) / 255.0;
            out[c * plane + i] = (x - cfg.mean[c]) / cfg.std[c];
        }
    }
    out
}

/// One output index's two taps: `(lower, upper, lambda_lower, lambda_upper)`.
type Tap = (usize, usize, f32, f32);

/// torch's `compute_source_index_and_lambda` (align_corners=False) for one axis, in f32.
fn axis_taps(n_in: usize, n_out: usize, ratio: f32) -> Vec<Tap> {
    (0..n_out)
        .map(|i| {
            if n_in == n_out {
                return (i, i, 1.0, 0.0);
            }
            let src = (ratio * (i as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let l1 = (src - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < n_in - 1 { i0 + 1 } else { i0 };
            (i0, i1, 1.0 - l1, l1)
        })
        .collect()
}

/// Separable bilinear on `[3, h, w]` planes: `(a*wx0 + b*wx1)*wy0 + (c*wx0 + d*wx1)*wy1`, the
/// evaluation order of torch's generic CPU upsampling kernel, each `x*y + z*w` fused as
/// `fma(x, y, z*w)` as torch's FMA-enabled build computes it (bit-exact with the oracle).
fn interpolate(src: &[f32], h: usize, w: usize, ry: &[Tap], rx: &[Tap]) -> Vec<f32> {
    let (oh, ow) = (ry.len(), rx.len());
    let mut out = Vec::with_capacity(3 * oh * ow);
    for plane in src.chunks_exact(h * w).take(3) {
        for &(y0, y1, wy0, wy1) in ry {
            let (r0, r1) = (&plane[y0 * w..(y0 + 1) * w], &plane[y1 * w..(y1 + 1) * w]);
            out.extend(rx.iter().map(|&(x0, x1, wx0, wx1)| {
                let t0 = fma(r0[x0], wx0, r0[x1] * wx1);
                let t1 = fma(r1[x0], wx0, r1[x1] * wx1);
                fma(t0, wy0, t1 * wy1)
            }));
        }
    }
    out
}

/// Correctly rounded `a * b + c` in f32 (what `f32::mul_add` returns), without a libm call.
///
/// torch's CPU kernels are built with FMA contraction, so `a*b + c*d` runs as
/// `fma(a, b, c*d)`; this reproduces that on any target. The product is exact in f64; the sum's
/// rounding error (TwoSum) decides the rare ties where rounding twice (f64, then f32) would be
/// wrong.
fn fma(a: f32, b: f32, c: f32) -> f32 {
    let p = f64::from(a) * f64::from(b);
    let c = f64::from(c);
    let s = p + c;
    let v = s - p;
    let err = (p - (s - v)) + (c - v);
    // An f64 halfway between two f32 values has exactly the top dropped mantissa bit set.
    const DROPPED: u64 = (1 << 29) - 1;
    let bits = s.to_bits();
    if err != 0.0 && bits & DROPPED == 1 << 28 && s.abs() >= f64::from(f32::MIN_POSITIVE) {
        let away = (err > 0.0) == (s > 0.0);
        return f64::from_bits(if away { bits + 1 } else { bits - 1 }) as f32;
    }
    s as f32
}

/// Copies `[3, h, w]` into the top-left of a zeroed `[3, ph, pw]`.
fn pad(src: &[f32], h: usize, w: usize, ph: usize, pw: usize) -> Vec<f32> {
    let mut out = vec![0f32; 3 * ph * pw];
    if h == 0 || w == 0 {
        return out;
    }
    for (c, plane) in src.chunks_exact(h * w).enumerate().take(3) {
        for (y, row) in plane.chunks_exact(w).enumerate() {
            let at = c * ph * pw + y * pw;
            out[at..at + w].copy_from_slice(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Config that keeps values in [0, 1] and skips no resize logic.
    fn raw_cfg(min_size: usize) -> TransformConfig {
        TransformConfig {
            min_size,
            mean: [0.0; 3],
            std: [1.0; 3],
            ..TransformConfig::default()
        }
    }

    fn gray(w: u32, h: u32, v: &[u8]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([v[(y * w + x) as usize]; 3]))
    }

    #[test]
    fn fma_is_correctly_rounded() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Random sign and mantissa, exponents in a small range so that ties happen.
            let bits = (state as u32 & 0x807f_ffff) | ((120 + (state >> 40) as u32 % 16) << 23);
            f32::from_bits(bits)
        };
        for _ in 0..200_000 {
            let (a, b, c) = (next(), next(), next());
            assert_eq!(
                fma(a, b, c).to_bits(),
                a.mul_add(b, c).to_bits(),
                "{a} {b} {c}"
            );
        }
        // a*b + c = 1 + 2^-23 + 2^-24 - 2^-70 rounds down to 1 + 2^-23, but the f64 sum is the
        // f32 tie 1 + 2^-23 + 2^-24, which a plain second rounding sends up to 1 + 2^-22.
        let (a, b, c) = (
            f32::from_bits(0x3980_0001),
            f32::from_bits(0x397f_fffe),
            1.0 + f32::EPSILON,
        );
        let naive = (f64::from(a) * f64::from(b) + f64::from(c)) as f32;
        assert_eq!(naive.to_bits(), 0x3f80_0002);
        assert_eq!(fma(a, b, c).to_bits(), 0x3f80_0001);
        assert_eq!(a.mul_add(b, c).to_bits(), 0x3f80_0001);
    }

    #[test]
    fn plan_matches_torch() {
        let cfg = TransformConfig::default();
        assert_eq!(resize_plan(400, 439, &cfg), (1.28, 512, 561));
        assert_eq!(resize_plan(512, 512, &cfg), (1.0, 512, 512));
        // Long side capped: 256 x 1024 -> scale min(2, 1) = 1.
        assert_eq!(resize_plan(256, 1024, &cfg), (1.0, 256, 1024));
        assert_eq!(resize_plan(300, 900, &cfg).1, 341);
    }

    #[test]
    fn upscale_2x2_to_4x4_by_hand() {
        // Scale 2: ratio 0.5, src = max(0, (i + .5) * .5 - .5) = 0, .25, .75, 1.25.
        // Taps: (0,1; l1=0), (0,1; .25), (0,1; .75), (1,1; l1=.25 but both taps are row 1).
        let img = gray(2, 2, &[0, 255, 51, 102]);
        let p = preprocess(&img, &raw_cfg(4));
        assert_eq!((p.resized, p.padded, p.scale), ([4, 4], [32, 32], 2.0));
        let row = |y: usize| &p.data[y * 32..y * 32 + 4];
        let close = |a: &[f32], b: [f32; 4]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(row(0), [0.0, 0.25, 0.75, 1.0]), "{:?}", row(0));
        assert!(close(row(3), [0.2, 0.25, 0.35, 0.4]), "{:?}", row(3));
        // Row 1 = .75 * row 0 + .25 * row 3.
        assert!(close(row(1), [0.05, 0.25, 0.65, 0.85]), "{:?}", row(1));
        assert!(p.data[4..32].iter().all(|&v| v == 0.0));
        // Legacy: ratio in/out = 0.5 here too, so the results agree.
        assert_eq!(preprocess_legacy_resize(&img, &raw_cfg(4)).data, p.data);
    }

    #[test]
    fn modern_and_legacy_differ_when_scale_is_not_out_over_in() {
        // 3 x 5 -> scale 4/3 -> 4 x 6 (floor 6.67); modern ratio .75, legacy 5/6 on x.
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([(x * 50) as u8, (y * 90) as u8, 0]));
        let m = preprocess(&img, &raw_cfg(4));
        let l = preprocess_legacy_resize(&img, &raw_cfg(4));
        assert_eq!(m.resized, [4, 6]);
        assert_eq!(l.resized, [4, 6]);
        // Last column of the red plane: modern src = 5.5*.75-.5 = 3.625, legacy 5.5*5/6-.5 = 4.083
        // (clamped to column 4).
        let last = |p: &Preprocessed| p.data[5];
        assert!((last(&m) - (0.375 * 150.0 + 0.625 * 200.0) / 255.0).abs() < 1e-6);
        assert!((last(&l) - 200.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn normalise_and_pad() {
        let cfg = TransformConfig::default();
        let img = RgbImage::from_pixel(512, 500, image::Rgb([255, 0, 128]));
        let p = preprocess(&img, &cfg);
        assert_eq!(p.resized, [512, 524]); // 500 * 1.024 = 512, 512 * 1.024 = 524.288
        assert_eq!(p.padded, [512, 544]);
        assert_eq!(p.data.len(), 3 * 512 * 544);
        let expect = [
            (1.0 - 0.485) / 0.229,
            -0.456 / 0.224,
            (128.0 / 255.0 - 0.406) / 0.225,
        ];
        for (c, e) in expect.iter().enumerate() {
            let v = p.data[c * 512 * 544 + 100 * 544 + 200];
            assert!((v - e).abs() < 1e-5, "c{c}: {v}");
            assert_eq!(p.data[c * 512 * 544 + 100 * 544 + 530], 0.0);
        }
        let empty = preprocess(&RgbImage::new(0, 0), &cfg);
        assert!(empty.data.is_empty());
        assert_eq!(empty.padded, [0, 0]);
    }

    #[test]
    fn scaled_by_keeps_or_rescales_the_pixel_size() {
        let cfg = TransformConfig::default();
        let img = RgbImage::from_pixel(300, 200, image::Rgb([10, 20, 30]));
        let same = preprocess(&img, &cfg.scaled_by(200, 300, 1.0));
        assert_eq!(same.scale, 1.0);
        assert_eq!(same.resized, [200, 300]);
        assert_eq!(same.padded, [224, 320]);
        let half = preprocess(&img, &cfg.scaled_by(200, 300, 0.5));
        assert_eq!(half.resized, [100, 150]);
        // A long thin slice is not capped at max_size.
        let wide = cfg.scaled_by(100, 3000, 1.0);
        assert_eq!(resize_plan(100, 3000, &wide), (1.0, 100, 3000));
    }
}
