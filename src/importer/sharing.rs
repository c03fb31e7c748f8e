//! Can the classifier and the segmentation model share one detector pass?
//!
//! COVID-CT-Mask-Net's classifier is trained from the segmentation model either with the
//! detector frozen ("heads") or with the backbone's batch-norm affine weights also trained
//! ("heads+BN"). In the first case one Mask R-CNN pass serves both; in the second the app must
//! run the classifier's own detector.

use super::StateDict;

/// How the detector weights of a classifier checkpoint relate to a segmentation checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectorSharing {
    /// Every shared detector weight is bit-for-bit identical: one detector pass serves both.
    Identical,
    /// Only backbone batch-norm weights/biases differ ("heads+BN" training): run both detectors.
    BatchNormAffineDiffers,
    /// Other weights differ, or a detector weight is missing from one of the two.
    Different,
}

/// Compares the detector weights of `classifier` and `segmentation`.
///
/// Keys under `s2new.` (the classifier head) and `roi_heads.mask_` (mask branch, which the
/// classifier lacks) are ignored. Every other key must be present in both.
pub fn detector_sharing(classifier: &StateDict, segmentation: &StateDict) -> DetectorSharing {
    let detector =
        |name: &&String| !name.starts_with("s2new.") && !name.starts_with("roi_heads.mask_");
    let mut bn_differs = false;

    for name in classifier.tensors.keys().filter(detector) {
        if !segmentation.tensors.contains_key(name) {
            return DetectorSharing::Different;
        }
    }
    for (name, seg) in segmentation
        .tensors
        .iter()
        .filter(|(name, _)| detector(name))
    {
        let Some(cls) = classifier.tensors.get(name) else {
            return DetectorSharing::Different;
        };
        let same = cls.shape == seg.shape
            && cls.data.len() == seg.data.len()
            && cls
                .data
                .iter()
                .zip(&seg.data)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if same {
            continue;
        }
        if cls.shape == seg.shape && is_backbone_bn_affine(name) {
            bn_differs = true;
        } else {
            return DetectorSharing::Different;
        }
    }
    if bn_differs {
        DetectorSharing::BatchNormAffineDiffers
    } else {
        DetectorSharing::Identical
    }
}

/// `backbone.body.<...bn...>.weight|bias`, e.g. `backbone.body.layer1.0.bn2.weight`.
fn is_backbone_bn_affine(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("backbone.body.") else {
        return false;
    };
    let Some((module, param)) = rest.rsplit_once('.') else {
        return false;
    };
    matches!(param, "weight" | "bias") && module.contains("bn")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::importer::RawTensor;

    fn dict(entries: &[(&str, f32)]) -> StateDict {
        let mut sd = StateDict::default();
        for (name, value) in entries {
            sd.tensors.insert(
                (*name).into(),
                RawTensor {
                    shape: vec![2],
                    data: vec![*value; 2],
                },
            );
        }
        sd
    }

    #[test]
    fn classifies_differences() {
        let seg = dict(&[
            ("backbone.body.layer1.0.bn2.weight", 1.0),
            ("backbone.body.layer1.0.bn2.running_mean", 0.0),
            ("rpn.head.conv.weight", 0.5),
            ("roi_heads.mask_head.mask_fcn1.weight", 3.0),
        ]);
        let same = dict(&[
            ("backbone.body.layer1.0.bn2.weight", 1.0),
            ("backbone.body.layer1.0.bn2.running_mean", 0.0),
            ("rpn.head.conv.weight", 0.5),
            ("s2new.fc_scores.weight", 9.0),
        ]);
        assert_eq!(detector_sharing(&same, &seg), DetectorSharing::Identical);

        let mut bn = same.clone();
        bn.tensors.insert(
            "backbone.body.layer1.0.bn2.weight".into(),
            dict(&[("x", 2.0)]).tensors["x"].clone(),
        );
        assert_eq!(
            detector_sharing(&bn, &seg),
            DetectorSharing::BatchNormAffineDiffers
        );

        let mut stats = same.clone();
        stats.tensors.insert(
            "backbone.body.layer1.0.bn2.running_mean".into(),
            dict(&[("x", 2.0)]).tensors["x"].clone(),
        );
        assert_eq!(detector_sharing(&stats, &seg), DetectorSharing::Different);

        let mut missing = same.clone();
        missing.tensors.remove("rpn.head.conv.weight");
        assert_eq!(detector_sharing(&missing, &seg), DetectorSharing::Different);
    }
}
