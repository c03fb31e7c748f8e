//! A classifier to fine-tune, built on a trained segmentation model: its detector as it is
//! (the mask branch dropped) and a new module S.

use burn::prelude::Device;

use crate::config::DetectorConfig;
use crate::error::ModelError;
use crate::importer::{RawTensor, StateDict};
use crate::model::{ModelKind, SplitMix, architecture, name_seed};

/// A COVID-CT-Mask-Net checkpoint made of `segmentation`'s detector (every tensor but the mask
/// branch `roi_heads.mask_*`, bit for bit, so one detector pass serves both models) and a
/// seeded new S with PyTorch's `nn.Linear` initialisation: weights and biases uniform in
/// `±1/sqrt(fan_in)`.
pub fn classifier_from_segmentation(
    segmentation: &StateDict,
    detector: &DetectorConfig,
    seed: u64,
    device: &Device,
) -> Result<StateDict, ModelError> {
    let names = architecture(ModelKind::Classification, detector, device)?;
    // A layer's bias bound uses its weight's fan-in (the layer's input width).
    let fan_in = |name: &str| -> usize {
        let weight = format!("{}.weight", name.trim_end_matches(".bias").trim_end_matches(".weight"));
        names
            .iter()
            .find(|(n, _)| *n == weight)
            .and_then(|(_, shape)| shape.get(1).copied())
            .unwrap_or(1)
            .max(1)
    };
    let mut weights = StateDict::default();
    for (name, shape) in &names {
        let tensor = if name.starts_with("s2new.") {
            let n: usize = shape.iter().product();
            let bound = 1.0 / (fan_in(name) as f32).sqrt();
            let mut rng = SplitMix::new(name_seed(name, seed));
            RawTensor {
                shape: shape.clone(),
                data: (0..n).map(|_| bound * (2.0 * rng.next_unit() - 1.0)).collect(),
            }
        } else {
            segmentation.tensors.get(name).cloned().ok_or_else(|| {
                ModelError::UnsupportedConfig(format!(
                    "the segmentation weights lack the detector tensor {name}"
                ))
            })?
        };
        weights.tensors.insert(name.clone(), tensor);
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::BackboneConfig;
    use crate::config::ClassificationConfig;
    use crate::importer::{DetectorSharing, detector_sharing};
    use crate::model::{ClassificationModel, synthetic_weights};

    #[test]
    fn the_classifier_keeps_the_detector_and_gets_a_seeded_s() {
        let device = crate::backend::cpu().device;
        let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
        let seg = synthetic_weights(ModelKind::Segmentation, &detector, 3, &device).unwrap();
        let a = classifier_from_segmentation(&seg, &detector, 1, &device).unwrap();
        let b = classifier_from_segmentation(&seg, &detector, 2, &device).unwrap();
        assert_eq!(detector_sharing(&a, &seg), DetectorSharing::Identical);
        assert_ne!(a.tensors["s2new.fc_scores.weight"], b.tensors["s2new.fc_scores.weight"]);
        assert!(!a.tensors.keys().any(|k| k.starts_with("roi_heads.mask_")));
        let w = &a.tensors["s2new.fc_scores.weight"];
        let bound = 1.0 / (w.shape[1] as f32).sqrt();
        assert!(w.data.iter().all(|v| v.abs() <= bound));
        assert!(w.data.iter().any(|v| v.abs() > 0.9 * bound));
        let bias = &a.tensors["s2new.fc_scores.bias"];
        assert!(bias.data.iter().all(|v| v.abs() <= bound));
        ClassificationModel::load(&a, ClassificationConfig::new().with_detector(detector), &device)
            .unwrap();

        let mut partial = seg.clone();
        partial.tensors.remove("rpn.head.conv.weight");
        let e = classifier_from_segmentation(&partial, &detector_of(&seg), 1, &device).unwrap_err();
        assert!(e.to_string().contains("rpn.head.conv.weight"), "{e}");
    }

    fn detector_of(weights: &StateDict) -> DetectorConfig {
        crate::model::infer_detector_config(weights)
    }
}
