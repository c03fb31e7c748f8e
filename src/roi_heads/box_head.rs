//! Box branch: `TwoMLPHead` (`roi_heads.box_head.fc6/fc7`) and `FastRCNNPredictor`
//! (`roi_heads.box_predictor.cls_score/bbox_pred`).

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::weights::WeightLoader;

/// Two fully connected layers with ReLU over the flattened pooled features.
#[derive(Module, Debug)]
pub struct BoxHead {
    fc6: Linear,
    fc7: Linear,
}

impl BoxHead {
    /// Loads `prefix.{fc6,fc7}` for `in_features` inputs and `representation` outputs.
    pub fn load(w: &WeightLoader, prefix: &str, in_features: usize, representation: usize) -> Self {
        Self {
            fc6: w.linear(&format!("{prefix}.fc6"), in_features, representation),
            fc7: w.linear(&format!("{prefix}.fc7"), representation, representation),
        }
    }

    /// # Shapes
    /// - `pooled`: `[R, C, P, P]` -> `[R, representation]`
    pub fn forward(&self, pooled: Tensor<4>) -> Tensor<2> {
        let x = pooled.flatten(1, 3);
        relu(self.fc7.forward(relu(self.fc6.forward(x))))
    }
}

/// Class logits and per-class box regression.
#[derive(Module, Debug)]
pub struct BoxPredictor {
    cls_score: Linear,
    bbox_pred: Linear,
}

impl BoxPredictor {
    /// Loads `prefix.{cls_score,bbox_pred}` for `num_classes` classes including background.
    pub fn load(w: &WeightLoader, prefix: &str, representation: usize, num_classes: usize) -> Self {
        Self {
            cls_score: w.linear(&format!("{prefix}.cls_score"), representation, num_classes),
            bbox_pred: w.linear(
                &format!("{prefix}.bbox_pred"),
                representation,
                4 * num_classes,
            ),
        }
    }

    /// # Shapes
    /// - `x`: `[R, representation]`
    /// - returns class logits `[R, K]` and box regression `[R, 4K]` (class `c` at `4c..4c+4`)
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.cls_score.forward(x.clone()), self.bbox_pred.forward(x))
    }
}
