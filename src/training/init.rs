//! Initial weights for training the segmentation model from scratch (no pre-trained backbone
//! can be obtained here).
//!
//! The batch-norm layers keep frozen statistics (mean 0, variance 1) as everywhere in this
//! project, so the network has no normalisation; to keep it trainable the backbone's
//! convolutions use He initialisation on the fan-in (variance-preserving under ReLU) and the last
//! batch-norm scale of every residual block starts at zero, so each block starts as the identity
//! ("zero-init residual", Goyal et al. 2017). The heads follow torchvision's Mask R-CNN: RPN and
//! box predictor from small normals, FPN from Kaiming-uniform with `a = 1`, mask head from
//! Kaiming-normal on the fan-out, biases zero.

use burn::prelude::Device;

use crate::config::DetectorConfig;
use crate::error::ModelError;
use crate::importer::{RawTensor, StateDict};
use crate::model::{ModelKind, SplitMix, architecture};

/// How one tensor starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    Constant(f32),
    Normal(f32),
    Uniform(f32),
}

fn rule(name: &str, shape: &[usize], last_block_bn: &str) -> Init {
    let receptive: usize = shape.iter().skip(2).product::<usize>().max(1);
    let fan_in = shape.get(1).copied().unwrap_or(1) * receptive;
    let fan_out = shape.first().copied().unwrap_or(1) * receptive;
    let field = name.rsplit('.').next().unwrap_or("");
    let layer = name.rsplit('.').nth(1).unwrap_or("");
    let is_bn = layer.starts_with("bn") || name.contains("downsample.1.");

    match field {
        "running_mean" => return Init::Constant(0.0),
        "running_var" => return Init::Constant(1.0),
        "bias" if name.contains("box_head.") => {
            return Init::Uniform(1.0 / (shape[0].max(1) as f32).sqrt());
        }
        "bias" => return Init::Constant(0.0),
        _ => {}
    }
    if is_bn {
        let residual_end = name.contains(".layer") && layer == last_block_bn;
        return Init::Constant(if residual_end { 0.0 } else { 1.0 });
    }
    if name.starts_with("backbone.body.") {
        Init::Normal((2.0 / fan_in as f32).sqrt())
    } else if name.starts_with("backbone.fpn.") {
        Init::Uniform((3.0 / fan_in as f32).sqrt())
    } else if name.starts_with("rpn.") || name.contains("cls_score") {
        Init::Normal(0.01)
    } else if name.contains("box_predictor.bbox_pred") {
        Init::Normal(0.001)
    } else if name.contains("box_head.") {
        Init::Uniform(1.0 / (fan_in as f32).sqrt())
    } else {
        Init::Normal((2.0 / fan_out as f32).sqrt())
    }
}

/// Seeded initial weights of the segmentation model (detector + mask head) for `detector`.
pub fn initial_segmentation_weights(
    detector: &DetectorConfig,
    seed: u64,
    device: &Device,
) -> Result<StateDict, ModelError> {
    let last_block_bn = if detector.backbone.uses_bottleneck() {
        "bn3"
    } else {
        "bn2"
    };

    let mut weights = StateDict::default();
    for (name, shape) in architecture(ModelKind::Segmentation, detector, device)? {
        let n: usize = shape.iter().product();
        let mut rng = SplitMix::new(crate::model::name_seed(&name, seed));
        let data = match rule(&name, &shape, last_block_bn) {
            Init::Constant(v) => vec![v; n],
            Init::Normal(std) => (0..n).map(|_| std * rng.normal()).collect(),
            Init::Uniform(bound) => (0..n)
                .map(|_| bound * (2.0 * rng.next_unit() - 1.0))
                .collect(),
        };
        weights.tensors.insert(name, RawTensor { shape, data });
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_layer() {
        let bn = "bn2";
        let conv = [64, 64, 3, 3];
        assert_eq!(
            rule("backbone.body.layer1.0.bn2.weight", &[64], bn),
            Init::Constant(0.0)
        );
        assert_eq!(
            rule("backbone.body.layer1.0.bn1.weight", &[64], bn),
            Init::Constant(1.0)
        );
        assert_eq!(
            rule("backbone.body.bn1.weight", &[64], bn),
            Init::Constant(1.0)
        );
        assert_eq!(
            rule("backbone.body.layer1.0.bn2.running_var", &[64], bn),
            Init::Constant(1.0)
        );
        assert_eq!(
            rule("backbone.body.layer1.0.conv1.weight", &conv, bn),
            Init::Normal((2.0f32 / 576.0).sqrt())
        );
        assert_eq!(rule("rpn.head.conv.weight", &conv, bn), Init::Normal(0.01));
        assert_eq!(
            rule("roi_heads.box_predictor.bbox_pred.weight", &[12, 128], bn),
            Init::Normal(0.001)
        );
        assert_eq!(
            rule("backbone.fpn.layer_blocks.0.bias", &[256], bn),
            Init::Constant(0.0)
        );
    }
}
