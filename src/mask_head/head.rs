//! Four 3x3 convolutions with ReLU, a 2x2 stride-2 transposed convolution with ReLU and a 1x1
//! convolution to one logit map per class.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::RoiHeadsConfig;
use crate::weights::{ConvSpec, WeightLoader};

/// Mask head and predictor.
#[derive(Module, Debug)]
pub struct MaskHead {
    convs: Vec<Conv2d>,
    conv5_mask: ConvTranspose2d,
    mask_fcn_logits: Conv2d,
}

impl MaskHead {
    /// Loads `prefix.mask_head.mask_fcn{1..}` and `prefix.mask_predictor.{conv5_mask,mask_fcn_logits}`.
    pub fn load(
        w: &WeightLoader,
        prefix: &str,
        in_channels: usize,
        config: &RoiHeadsConfig,
    ) -> Self {
        let width = config.mask_head_channels;
        let mut c_in = in_channels;
        let convs = (1..=config.mask_head_layers)
            .map(|i| {
                let conv = w.conv2d(
                    &format!("{prefix}.mask_head.mask_fcn{i}"),
                    ConvSpec::with_bias([c_in, width], 3, 1, 1),
                );
                c_in = width;
                conv
            })
            .collect();
        Self {
            convs,
            conv5_mask: w.conv_transpose2d(
                &format!("{prefix}.mask_predictor.conv5_mask"),
                [width, width],
                2,
                2,
            ),
            mask_fcn_logits: w.conv2d(
                &format!("{prefix}.mask_predictor.mask_fcn_logits"),
                ConvSpec::with_bias([width, config.num_classes], 1, 1, 0),
            ),
        }
    }

    /// # Shapes
    /// - `pooled`: `[D, C, 14, 14]` -> mask logits `[D, K, 28, 28]`
    pub fn forward(&self, pooled: Tensor<4>) -> Tensor<4> {
        let mut x = pooled;
        for conv in &self.convs {
            x = relu(conv.forward(x));
        }
        let x = relu(self.conv5_mask.forward(x));
        self.mask_fcn_logits.forward(x)
    }
}
