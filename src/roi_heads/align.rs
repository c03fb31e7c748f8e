//! Multi-scale RoIAlign, the legacy (`aligned=False`) variant with a fixed sampling ratio.
//!
//! Burn has no RoIAlign, so it is built from `grid_sample_2d`, which every backend implements
//! (with gradients). The host computes each sample's position exactly as torchvision's kernel
//! does (including its border rules: samples beyond one pixel outside the map are zero, the rest
//! are clamped to the map), the device samples bilinearly at those positions and averages each
//! bin's samples.

use burn::prelude::*;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};

use super::align_host::{HostFeatureMap, roi_align_host};
use crate::box_ops::{Box4, area};
use crate::error::ModelError;
use crate::readback::read_f32;

/// Where RoIAlign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoiAlignMode {
    /// On the device through `grid_sample_2d` (GPU backends).
    Device,
    /// On a host copy of the feature maps (the CPU backend, where that copy is free).
    Host,
}

impl RoiAlignMode {
    /// [`Self::Host`] for the CPU backend, [`Self::Device`] otherwise.
    pub fn for_device(device: &Device) -> Self {
        if format!("{:?}", device.as_dispatch()).starts_with("Flex") {
            Self::Host
        } else {
            Self::Device
        }
    }
}

/// RoIs pooled per `grid_sample` call, to bound the sampled intermediate tensor.
const ROIS_PER_CHUNK: usize = 256;

/// Pyramid level each box is pooled from, as torchvision's `LevelMapper` assigns it:
/// `floor(4 + log2(sqrt(area) / 224) + 1e-6)` clamped to the available levels, minus the finest
/// level (`k_min`). Empty boxes go to the finest level.
pub fn assign_levels(boxes: &[Box4], k_min: i32, k_max: i32) -> Vec<usize> {
    boxes
        .iter()
        .map(|b| {
            let s = area(b).sqrt();
            let k = (4.0 + (s / 224.0).log2() + 1e-6f32).floor();
            let k = if k.is_nan() {
                k_min as f32
            } else {
                k.clamp(k_min as f32, k_max as f32)
            };
            (k as i32 - k_min) as usize
        })
        .collect()
}

/// The scale of a feature map relative to the image, a power of two (torchvision's
/// `_infer_scales`).
pub fn infer_scale(feature_size: usize, image_size: usize) -> f32 {
    let approx = feature_size as f32 / image_size as f32;
    2f32.powf(approx.log2().round())
}

/// Sample positions and validity for `boxes` on one level.
///
/// Returns a grid `[1, R * S, S, 2]` of normalised `(x, y)` (align-corners convention) and a mask
/// `[1, 1, R * S, S]`, where `S = output * sampling_ratio`.
fn sampling_grid(
    boxes: &[Box4],
    scale: f32,
    map_size: [usize; 2],
    output: usize,
    sampling_ratio: usize,
) -> (Vec<f32>, Vec<f32>) {
    let s = output * sampling_ratio;
    let [height, width] = map_size.map(|v| v as f32);
    let mut grid = Vec::with_capacity(boxes.len() * s * s * 2);
    let mut valid = Vec::with_capacity(boxes.len() * s * s);

    let normalise = |v: f32, size: f32| {
        if size > 1.0 {
            v / (size - 1.0) * 2.0 - 1.0
        } else {
            0.0
        }
    };
    let axis_samples = |start: f32, end: f32| -> Vec<f32> {
        let extent = (end - start).max(1.0);
        let bin = extent / output as f32;
        let mut positions = Vec::with_capacity(s);
        for p in 0..output {
            for i in 0..sampling_ratio {
                let offset = (i as f32 + 0.5) * bin / sampling_ratio as f32;
                positions.push(start + p as f32 * bin + offset);
            }
        }
        positions
    };

    for b in boxes {
        let xs = axis_samples(b[0] * scale, b[2] * scale);
        let ys = axis_samples(b[1] * scale, b[3] * scale);
        for &y in &ys {
            for &x in &xs {
                let inside = !(y < -1.0 || y > height || x < -1.0 || x > width);
                let cx = x.clamp(0.0, (width - 1.0).max(0.0));
                let cy = y.clamp(0.0, (height - 1.0).max(0.0));
                grid.push(normalise(cx, width));
                grid.push(normalise(cy, height));
                valid.push(if inside { 1.0 } else { 0.0 });
            }
        }
    }
    (grid, valid)
}

/// RoIAlign of `boxes` on one feature map.
///
/// # Shapes
/// - `feature`: `[1, C, H, W]`
/// - returns `[R, C, output, output]`
pub fn roi_align(
    feature: &Tensor<4>,
    boxes: &[Box4],
    scale: f32,
    output: usize,
    sampling_ratio: usize,
) -> Tensor<4> {
    let [_, channels, height, width] = feature.dims();
    let device = feature.device();
    if boxes.is_empty() {
        return Tensor::zeros([0, channels, output, output], &device);
    }

    let s = output * sampling_ratio;
    let chunks = boxes.chunks(ROIS_PER_CHUNK).map(|chunk| {
        let r = chunk.len();
        let (grid, valid) = sampling_grid(chunk, scale, [height, width], output, sampling_ratio);
        let grid = Tensor::<4>::from_data(TensorData::new(grid, [1, r * s, s, 2]), &device);
        let valid = Tensor::<4>::from_data(TensorData::new(valid, [1, 1, r * s, s]), &device);

        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Border)
            .with_align_corners(true);
        let samples = feature.clone().grid_sample_2d(grid, options) * valid;

        // [1, C, R*S, S] -> [C, R, out, ratio, out, ratio] -> mean over each bin's samples.
        samples
            .reshape([channels, r, output, sampling_ratio, output, sampling_ratio])
            .sum_dim(5)
            .sum_dim(3)
            .reshape([channels, r, output, output])
            .swap_dims(0, 1)
            .div_scalar((sampling_ratio * sampling_ratio) as f32)
    });
    Tensor::cat(chunks.collect(), 0)
}

/// RoIAlign of `boxes` on one level, where `mode` says.
async fn roi_align_level(
    feature: &Tensor<4>,
    boxes: &[Box4],
    scale: f32,
    output: usize,
    sampling_ratio: usize,
    mode: RoiAlignMode,
) -> Result<Tensor<4>, ModelError> {
    match mode {
        RoiAlignMode::Device => Ok(roi_align(feature, boxes, scale, output, sampling_ratio)),
        RoiAlignMode::Host => {
            let [_, c, h, w] = feature.dims();
            let map = HostFeatureMap::from_chw(&read_f32(feature.clone()).await?, c, h, w);
            let pooled = roi_align_host(&map, boxes, scale, output, sampling_ratio);
            let shape = [boxes.len(), c, output, output];
            Ok(Tensor::from_data(
                TensorData::new(pooled, shape),
                &feature.device(),
            ))
        }
    }
}

/// RoIAlign over a feature pyramid: each box is pooled from the level [`assign_levels`] picks.
///
/// # Shapes
/// - `features`: `[1, C, H_l, W_l]` per level, finest first
/// - returns `[R, C, output, output]` in the order of `boxes`
pub async fn multiscale_roi_align(
    features: &[Tensor<4>],
    boxes: &[Box4],
    image_size: [usize; 2],
    output: usize,
    sampling_ratio: usize,
    mode: RoiAlignMode,
) -> Result<Tensor<4>, ModelError> {
    let scales: Vec<f32> = features
        .iter()
        .map(|f| {
            let [_, _, h, w] = f.dims();
            infer_scale(h.max(1), image_size[0]).max(infer_scale(w.max(1), image_size[1]))
        })
        .collect();
    let k_min = -scales[0].log2().round() as i32;
    let k_max = -scales[scales.len() - 1].log2().round() as i32;
    let levels = assign_levels(boxes, k_min, k_max);

    let mut pooled = Vec::new();
    let mut order = Vec::with_capacity(boxes.len());
    for (level, feature) in features.iter().enumerate() {
        let members: Vec<usize> = (0..boxes.len()).filter(|&i| levels[i] == level).collect();
        if members.is_empty() {
            continue;
        }
        let level_boxes: Vec<Box4> = members.iter().map(|&i| boxes[i]).collect();
        pooled.push(
            roi_align_level(
                feature,
                &level_boxes,
                scales[level],
                output,
                sampling_ratio,
                mode,
            )
            .await?,
        );
        order.extend(members);
    }

    let device = features[0].device();
    let channels = features[0].dims()[1];
    if pooled.is_empty() {
        return Ok(Tensor::zeros([0, channels, output, output], &device));
    }

    // Rows are grouped by level; put them back in box order.
    let mut inverse = vec![0i64; order.len()];
    for (row, &box_index) in order.iter().enumerate() {
        inverse[box_index] = row as i64;
    }
    let inverse = Tensor::<1, Int>::from_data(TensorData::new(inverse, [boxes.len()]), &device);
    Ok(Tensor::cat(pooled, 0).select(0, inverse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_mapping() {
        let boxes = [
            [0.0, 0.0, 224.0, 224.0], // k = 4 -> level 2
            [0.0, 0.0, 10.0, 10.0],   // small -> P2
            [5.0, 5.0, 5.0, 20.0],    // empty -> P2
            [0.0, 0.0, 500.0, 500.0], // k = 5.16 -> 5 -> level 3
            [0.0, 0.0, 112.0, 112.0], // k = 3 -> level 1
        ];
        assert_eq!(assign_levels(&boxes, 2, 5), vec![2, 0, 0, 3, 1]);
    }

    #[test]
    fn pools_bilinear_samples_by_hand() {
        let device = Device::default();
        // 1 channel, 4x4 map holding x + 10 y.
        let values: Vec<f32> = (0..16)
            .map(|i| (i % 4) as f32 + 10.0 * (i / 4) as f32)
            .collect();
        let feature = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 4, 4]), &device);
        // One bin over [0, 2] x [0, 2]: samples at 0.5 and 1.5 on each axis -> mean x 1, y 1.
        let out = roi_align(&feature, &[[0.0, 0.0, 2.0, 2.0]], 1.0, 1, 2);
        let v = out.into_data().try_into_vec_as::<f32>().unwrap();
        assert!((v[0] - 11.0).abs() < 1e-5, "{v:?}");

        // Samples past the last row are clamped to it: box [0, 3] x [3, 4] samples y = 3.25, 3.75.
        let out = roi_align(&feature, &[[0.0, 3.0, 3.0, 4.0]], 1.0, 1, 2);
        let v = out.into_data().try_into_vec_as::<f32>().unwrap();
        assert!((v[0] - (1.5 + 30.0)).abs() < 1e-5, "{v:?}");

        // The host path computes the same.
        let host = HostFeatureMap::from_chw(
            &(0..16)
                .map(|i| (i % 4) as f32 + 10.0 * (i / 4) as f32)
                .collect::<Vec<_>>(),
            1,
            4,
            4,
        );
        let v = roi_align_host(&host, &[[0.0, 3.0, 3.0, 4.0]], 1.0, 1, 2);
        assert!((v[0] - (1.5 + 30.0)).abs() < 1e-5, "{v:?}");

        // A box far outside the map pools zeros.
        let out = roi_align(&feature, &[[10.0, 10.0, 12.0, 12.0]], 1.0, 1, 2);
        let v = out.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(v[0], 0.0);
    }
}
