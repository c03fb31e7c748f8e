//! Recognising what a checkpoint holds: which model, which ResNet, how truncated.

use std::collections::BTreeMap;

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

/// One file holding both models (the project's default weights): COVID-CT-Mask-Net and the
/// segmentation model on one shared detector, stored once. Returns `(classifier, segmenter)`:
/// every tensor but the mask branch, and every tensor but module S. `None` unless `weights`
/// has both `s2new.*` and `roi_heads.mask_*` tensors.
pub fn split_combined(weights: &StateDict) -> Option<(StateDict, StateDict)> {
    let has = |prefix: &str| weights.tensors.keys().any(|k| k.starts_with(prefix));
    if !(has("s2new.") && has("roi_heads.mask_")) {
        return None;
    }
    let without = |prefix: &str| StateDict {
        tensors: weights
            .tensors
            .iter()
            .filter(|(k, _)| !k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    Some((without("roi_heads.mask_"), without("s2new.")))
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

/// The detector settings of a checkpoint: the `config` this project's files carry (anchors and
/// the other settings tensor shapes cannot reveal), checked against the backbone the tensors
/// show; for files without it (the authors'), the paper's settings with the inferred backbone.
///
/// Errors: settings that cannot be read, a backbone other than the tensors', or anchors that
/// are not positive finite sizes and ratios.
pub fn detector_config(
    weights: &StateDict,
    metadata: &BTreeMap<String, String>,
) -> Result<DetectorConfig, ModelError> {
    let inferred = infer_detector_config(weights);
    let Some(text) = metadata.get("config") else {
        return Ok(inferred);
    };
    let unreadable = |e: String| {
        ModelError::UnsupportedConfig(format!("the file's model settings cannot be read ({e})"))
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
    let config: DetectorConfig = serde_json::from_value(value["detector"].clone())
        .map_err(|e| unreadable(e.to_string()))?;
    let (ours, theirs) = (&config.backbone, &inferred.backbone);
    if (ours.depth, ours.truncation) != (theirs.depth, theirs.truncation) {
        return Err(ModelError::UnsupportedConfig(format!(
            "the file's settings say ResNet-{} (truncation {}) but its tensors are ResNet-{} \
             (truncation {})",
            ours.depth, ours.truncation, theirs.depth, theirs.truncation
        )));
    }
    let rpn = &config.rpn;
    let valid = |v: &[f32]| !v.is_empty() && v.iter().all(|x| x.is_finite() && *x > 0.0);
    if !valid(&rpn.anchor_sizes) || !valid(&rpn.aspect_ratios) {
        return Err(ModelError::UnsupportedConfig(format!(
            "the file's anchors are not usable (sizes {:?}, aspect ratios {:?})",
            rpn.anchor_sizes, rpn.aspect_ratios
        )));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SegmentationConfig;
    use crate::model::synthetic_weights;

    fn resnet18() -> (StateDict, DetectorConfig) {
        let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
        let device = crate::backend::cpu().device;
        let weights =
            synthetic_weights(ModelKind::Segmentation, &detector, 1, &device).unwrap();
        (weights, detector)
    }

    #[test]
    fn detector_config_reads_saved_anchors_and_checks_them() {
        let (weights, mut detector) = resnet18();
        let mut metadata = BTreeMap::new();
        assert_eq!(
            detector_config(&weights, &metadata).unwrap().rpn.anchor_sizes,
            crate::rpn::RpnConfig::new().anchor_sizes
        );
        detector.rpn.anchor_sizes = vec![8.0, 16.0, 32.0, 64.0, 128.0];
        let saved = SegmentationConfig::new().with_detector(detector.clone());
        metadata.insert("config".into(), serde_json::to_string(&saved).unwrap());
        let read = detector_config(&weights, &metadata).unwrap();
        assert_eq!(read.rpn.anchor_sizes, detector.rpn.anchor_sizes);
        assert_eq!(read.backbone.depth, 18);

        let mut wrong_depth = saved.clone();
        wrong_depth.detector.backbone.depth = 50;
        metadata.insert("config".into(), serde_json::to_string(&wrong_depth).unwrap());
        let e = detector_config(&weights, &metadata).unwrap_err().to_string();
        assert!(e.contains("ResNet-50") && e.contains("ResNet-18"), "{e}");

        let mut bad_anchor = saved;
        bad_anchor.detector.rpn.anchor_sizes = vec![16.0, -1.0];
        metadata.insert("config".into(), serde_json::to_string(&bad_anchor).unwrap());
        assert!(detector_config(&weights, &metadata).is_err());
        metadata.insert("config".into(), "{not json".into());
        let e = detector_config(&weights, &metadata).unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
    }

    #[test]
    fn a_combined_file_splits_into_the_two_models() {
        let (seg, detector) = resnet18();
        let device = crate::backend::cpu().device;
        let cls = synthetic_weights(ModelKind::Classification, &detector, 1, &device).unwrap();
        assert!(split_combined(&seg).is_none());
        assert!(split_combined(&cls).is_none());
        let mut both = seg.clone();
        both.tensors.extend(cls.tensors.iter().filter(|(k, _)| k.starts_with("s2new.")).map(|(k, v)| (k.clone(), v.clone())));
        let (c, s) = split_combined(&both).unwrap();
        assert_eq!(s, seg);
        assert_eq!(ModelKind::detect(&c).unwrap(), ModelKind::Classification);
        assert!(!c.tensors.keys().any(|k| k.starts_with("roi_heads.mask_")));
        assert_eq!(c.tensors["s2new.fc_scores.weight"], cls.tensors["s2new.fc_scores.weight"]);
    }
}
