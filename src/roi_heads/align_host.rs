//! RoIAlign computed on the host, for the CPU backend.
//!
//! The device path ([`super::align::roi_align`]) samples through `grid_sample_2d`, which every
//! backend has but which the CPU backend runs channel by channel with scattered reads. On the
//! CPU, reading the feature map back is a plain copy, so this path transposes it to
//! channels-last once and accumulates each bin's bilinear samples as contiguous vector
//! operations over the channels. Same sample positions, weights and border rules as torchvision
//! (legacy `aligned=False`); the two paths are tested against each other.

use crate::box_ops::Box4;

/// One feature map on the host, channels-last `[H, W, C]`.
#[derive(Debug, Clone)]
pub struct HostFeatureMap {
    data: Vec<f32>,
    height: usize,
    width: usize,
    channels: usize,
}

impl HostFeatureMap {
    /// Transposes a `[C, H, W]` row-major map to channels-last.
    pub fn from_chw(chw: &[f32], channels: usize, height: usize, width: usize) -> Self {
        let plane = height * width;
        let mut data = vec![0.0f32; chw.len()];
        for (c, src) in chw.chunks_exact(plane).enumerate() {
            for (p, &v) in src.iter().enumerate() {
                data[p * channels + c] = v;
            }
        }
        Self {
            data,
            height,
            width,
            channels,
        }
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

/// One bilinear sample along an axis: two taps and their weights (zero when out of range).
#[derive(Debug, Clone, Copy)]
struct Tap {
    lo: usize,
    hi: usize,
    w_lo: f32,
    w_hi: f32,
}

/// Taps of the `output * ratio` samples along one axis of a box `[start, end]` (map pixels).
fn axis_taps(start: f32, end: f32, size: usize, output: usize, ratio: usize) -> Vec<Tap> {
    let extent = (end - start).max(1.0);
    let bin = extent / output as f32;
    let mut taps = Vec::with_capacity(output * ratio);
    for p in 0..output {
        for i in 0..ratio {
            let mut s = start + p as f32 * bin + (i as f32 + 0.5) * bin / ratio as f32;
            if s < -1.0 || s > size as f32 {
                taps.push(Tap {
                    lo: 0,
                    hi: 0,
                    w_lo: 0.0,
                    w_hi: 0.0,
                });
                continue;
            }
            s = s.max(0.0);
            let mut lo = s as usize;
            let hi = if lo + 1 >= size {
                lo = size - 1;
                s = lo as f32;
                lo
            } else {
                lo + 1
            };
            let l = s - lo as f32;
            taps.push(Tap {
                lo,
                hi,
                w_lo: 1.0 - l,
                w_hi: l,
            });
        }
    }
    taps
}

/// RoIAlign of one box into `out` (`[C, output, output]` row-major).
fn pool_one(
    map: &HostFeatureMap,
    b: &Box4,
    scale: f32,
    output: usize,
    ratio: usize,
    acc: &mut [f32],
    out: &mut [f32],
) {
    let c = map.channels;
    let ys = axis_taps(b[1] * scale, b[3] * scale, map.height, output, ratio);
    let xs = axis_taps(b[0] * scale, b[2] * scale, map.width, output, ratio);
    let inv_count = 1.0 / (ratio * ratio) as f32;
    let row = |y: usize, x: usize| &map.data[(y * map.width + x) * c..(y * map.width + x + 1) * c];

    for ph in 0..output {
        for pw in 0..output {
            acc.fill(0.0);
            for ty in &ys[ph * ratio..(ph + 1) * ratio] {
                for tx in &xs[pw * ratio..(pw + 1) * ratio] {
                    let corners = [
                        (ty.lo, tx.lo, ty.w_lo * tx.w_lo),
                        (ty.lo, tx.hi, ty.w_lo * tx.w_hi),
                        (ty.hi, tx.lo, ty.w_hi * tx.w_lo),
                        (ty.hi, tx.hi, ty.w_hi * tx.w_hi),
                    ];
                    for (y, x, w) in corners {
                        if w != 0.0 {
                            for (a, &v) in acc.iter_mut().zip(row(y, x)) {
                                *a += w * v;
                            }
                        }
                    }
                }
            }
            let bin = ph * output + pw;
            for (ch, &a) in acc.iter().enumerate() {
                out[ch * output * output + bin] = a * inv_count;
            }
        }
    }
}

/// RoIAlign of `boxes` on one host feature map.
///
/// # Shapes
/// - returns `[R, C, output, output]` row-major
pub fn roi_align_host(
    map: &HostFeatureMap,
    boxes: &[Box4],
    scale: f32,
    output: usize,
    ratio: usize,
) -> Vec<f32> {
    let per_roi = map.channels * output * output;
    let mut result = vec![0.0f32; boxes.len() * per_roi];
    if boxes.is_empty() || map.height == 0 || map.width == 0 {
        return result;
    }

    let pool_chunk = |boxes: &[Box4], out: &mut [f32]| {
        let mut acc = vec![0.0f32; map.channels];
        for (b, o) in boxes.iter().zip(out.chunks_exact_mut(per_roi)) {
            pool_one(map, b, scale, output, ratio, &mut acc, o);
        }
    };

    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let per_thread = boxes.len().div_ceil(threads);
        let pool_chunk = &pool_chunk;
        std::thread::scope(|scope| {
            for (chunk, out) in boxes
                .chunks(per_thread)
                .zip(result.chunks_mut(per_thread * per_roi))
            {
                scope.spawn(move || pool_chunk(chunk, out));
            }
        });
    }
    #[cfg(target_arch = "wasm32")]
    pool_chunk(boxes, &mut result);

    result
}
