//! The RPN head (`rpn.head.*`): 3x3 convolution + ReLU, then 1x1 objectness and box deltas,
//! shared by every pyramid level.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::weights::{ConvSpec, WeightLoader};

/// Shared head of the RPN.
#[derive(Module, Debug)]
pub struct RpnHead {
    conv: Conv2d,
    cls_logits: Conv2d,
    bbox_pred: Conv2d,
}

/// One pyramid level's head outputs, flattened in `(y, x, a)` order.
#[derive(Debug, Clone)]
pub struct RpnLevelOutput {
    /// `[H * W * A]` objectness logits.
    pub objectness: Tensor<1>,
    /// `[H * W * A, 4]` box deltas.
    pub deltas: Tensor<2>,
    /// Feature-map size `[H, W]`.
    pub size: [usize; 2],
}

impl RpnLevelOutput {
    /// The same outputs cut from the autodiff graph (proposal selection passes no gradient).
    pub fn detach(&self) -> Self {
        Self {
            objectness: self.objectness.clone().detach(),
            deltas: self.deltas.clone().detach(),
            size: self.size,
        }
    }
}

impl RpnHead {
    /// Loads `prefix.{conv,cls_logits,bbox_pred}` for `anchors` anchors per location.
    pub fn load(w: &WeightLoader, prefix: &str, channels: usize, anchors: usize) -> Self {
        Self {
            conv: w.conv2d(
                &format!("{prefix}.conv"),
                ConvSpec::with_bias([channels, channels], 3, 1, 1),
            ),
            cls_logits: w.conv2d(
                &format!("{prefix}.cls_logits"),
                ConvSpec::with_bias([channels, anchors], 1, 1, 0),
            ),
            bbox_pred: w.conv2d(
                &format!("{prefix}.bbox_pred"),
                ConvSpec::with_bias([channels, 4 * anchors], 1, 1, 0),
            ),
        }
    }

    /// Raw head outputs of one level.
    ///
    /// # Shapes
    /// - `feature`: `[1, C, H, W]`
    /// - returns objectness `[1, A, H, W]` and deltas `[1, 4A, H, W]` (channel `a * 4 + k`)
    pub fn forward_raw(&self, feature: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let t = relu(self.conv.forward(feature));
        (
            self.cls_logits.forward(t.clone()),
            self.bbox_pred.forward(t),
        )
    }

    /// Head outputs of one level flattened to `(y, x, a)` order, the anchors' order.
    ///
    /// # Shapes
    /// - `feature`: `[1, C, H, W]`
    pub fn forward(&self, feature: Tensor<4>) -> RpnLevelOutput {
        let (objectness, deltas) = self.forward_raw(feature);
        let [_, anchors, h, w] = objectness.dims();

        let objectness = objectness.permute([0, 2, 3, 1]).reshape([h * w * anchors]);
        let deltas = deltas
            .reshape([anchors, 4, h, w])
            .permute([2, 3, 0, 1])
            .reshape([h * w * anchors, 4]);

        RpnLevelOutput {
            objectness,
            deltas,
            size: [h, w],
        }
    }
}
