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

/// Refuses a checkpoint whose saved settings (the `config` our files carry) use anchors other
/// than the paper's: the tensors cannot tell them apart, and the models built from tensors
/// alone would use the paper's anchors and give wrong boxes without a word. The commands that
/// read the settings (`evaluate-segmentation`, `train-segmentation --resume`) do not call this.
pub fn check_paper_anchors(
    metadata: &std::collections::BTreeMap<String, String>,
) -> Result<(), ModelError> {
    let Some(text) = metadata.get("config") else {
        return Ok(());
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(());
    };
    let rpn = &value["detector"]["rpn"];
    let paper = crate::rpn::RpnConfig::new();
    let floats = |v: &serde_json::Value| -> Option<Vec<f32>> {
        v.as_array()?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect()
    };
    let sizes = floats(&rpn["anchor_sizes"]).unwrap_or_else(|| paper.anchor_sizes.clone());
    let ratios = floats(&rpn["aspect_ratios"]).unwrap_or_else(|| paper.aspect_ratios.clone());
    if sizes != paper.anchor_sizes || ratios != paper.aspect_ratios {
        return Err(ModelError::UnsupportedConfig(format!(
            "these weights were trained with anchor sizes {sizes:?} and aspect ratios {ratios:?}; \
             only the paper's anchors ({:?}, {:?}) can be used here so far",
            paper.anchor_sizes, paper.aspect_ratios
        )));
    }
    Ok(())
}
