//! Recognising what a checkpoint holds: which model, which ResNet, how truncated.

use crate::backbone::BackboneConfig;
use crate::config::DetectorConfig;
use crate::error::ModelError;
use crate::importer::StateDict;

/// Which of the paper's two models a set of weights belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Mask R-CNN with a mask branch (`roi_heads.mask_*`).
    Segmentation,
    /// COVID-CT-Mask-Net with module S (`s2new.*`).
    Classification,
}

impl ModelKind {
    /// Recognises the model from its tensors' names.
    pub fn detect(weights: &StateDict) -> Result<Self, ModelError> {
        let has = |prefix: &str| weights.tensors.keys().any(|k| k.starts_with(prefix));
        if !has("backbone.body.") || !has("rpn.head.") || !has("roi_heads.box_predictor.") {
            return Err(ModelError::UnsupportedConfig(
                "these weights are not a COVID-CT-Mask-Net or Mask R-CNN checkpoint (no ResNet \
                 backbone, RPN or box predictor)"
                    .into(),
            ));
        }
        match (has("s2new."), has("roi_heads.mask_")) {
            (true, _) => Ok(Self::Classification),
            (false, true) => Ok(Self::Segmentation),
            (false, false) => Err(ModelError::UnsupportedConfig(
                "these detector weights have neither a classifier (module S) nor a mask branch"
                    .into(),
            )),
        }
    }

    /// `"segmentation"` or `"classification"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Segmentation => "segmentation",
            Self::Classification => "classification",
        }
    }
}

/// The backbone of a checkpoint: depth from the blocks present, truncation from the missing
/// stages. Everything else keeps the paper's defaults (the loader then checks every shape).
pub fn infer_detector_config(weights: &StateDict) -> DetectorConfig {
    let has = |name: &str| weights.tensors.contains_key(name);
    let stages = (1..=4)
        .take_while(|s| has(&format!("backbone.body.layer{s}.0.conv1.weight")))
        .count();
    let bottleneck = has("backbone.body.layer1.0.conv3.weight");
    let depth = if bottleneck {
        50
    } else if has("backbone.body.layer1.2.conv1.weight") {
        34
    } else {
        18
    };
    let backbone = BackboneConfig::new()
        .with_depth(depth)
        .with_truncation(4 - stages.clamp(2, 4));
    DetectorConfig::new().with_backbone(backbone)
}
