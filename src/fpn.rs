//! Feature pyramid network (`backbone.fpn.*`): lateral 1x1 convolutions, nearest-neighbour
//! top-down pathway and 3x3 output convolutions. No extra P6 level (the paper's FPN has 4
//! levels, P2..P5, strides 4..32).

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::weights::{ConvSpec, WeightLoader};

/// Lateral (`inner_blocks`) and output (`layer_blocks`) convolutions of every level.
#[derive(Module, Debug)]
pub struct Fpn {
    inner_blocks: Vec<Conv2d>,
    layer_blocks: Vec<Conv2d>,
}

impl Fpn {
    /// Loads `prefix.inner_blocks.i` and `prefix.layer_blocks.i` (torchvision-0.3 names).
    pub fn load(w: &WeightLoader, prefix: &str, in_channels: &[usize], channels: usize) -> Self {
        let inner_blocks = in_channels
            .iter()
            .enumerate()
            .map(|(i, &c_in)| {
                let spec = ConvSpec::with_bias([c_in, channels], 1, 1, 0);
                w.conv2d(&format!("{prefix}.inner_blocks.{i}"), spec)
            })
            .collect();
        let layer_blocks = (0..in_channels.len())
            .map(|i| {
                let spec = ConvSpec::with_bias([channels, channels], 3, 1, 1);
                w.conv2d(&format!("{prefix}.layer_blocks.{i}"), spec)
            })
            .collect();
        Self {
            inner_blocks,
            layer_blocks,
        }
    }

    /// # Shapes
    /// - `features`: the backbone stages, finest first, `[N, C_i, H_i, W_i]`
    /// - returns the pyramid, finest first, `[N, channels, H_i, W_i]`
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Vec<Tensor<4>> {
        let levels = features.len();
        let mut features = features.into_iter().rev();
        let Some(top) = features.next() else {
            return Vec::new();
        };

        let mut last_inner = self.inner_blocks[levels - 1].forward(top);
        let mut results = vec![self.layer_blocks[levels - 1].forward(last_inner.clone())];

        for (idx, feature) in (0..levels - 1).rev().zip(features) {
            let lateral = self.inner_blocks[idx].forward(feature);
            let [_, _, h, w] = lateral.dims();
            let options =
                InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]);
            let top_down = interpolate(last_inner, options);

            last_inner = lateral + top_down;
            results.push(self.layer_blocks[idx].forward(last_inner.clone()));
        }

        results.reverse();
        results
    }
}
