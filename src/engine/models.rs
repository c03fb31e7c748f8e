//! Building the engine's models: the seeded placeholder, or the checkpoints the user loads.
//!
//! A failed build never replaces the active model: the engine swaps only once the new one is
//! fully built.

use std::rc::Rc;

use burn::prelude::Device;

use super::finetune::PAIRED_SEGMENTER_KEY;
use super::protocol::ModelInfo;
use crate::analysis::Analyzer;
use crate::backbone::BackboneConfig;
use crate::config::DetectorConfig;
use crate::importer::{StateDict, read_checkpoint};
use crate::model::{ModelKind, detector_config, split_combined, synthetic_weights};

/// Seed of the placeholder weights. Both models use it, so their detectors are identical and
/// one detector pass serves both.
pub const PLACEHOLDER_SEED: u64 = 2020;

/// What the page says about the placeholder.
pub const PLACEHOLDER_NOTE: &str = "Placeholder model: random seeded weights, not a trained \
    model; results mean nothing. Load the authors' checkpoints to get real predictions.";

/// What the page says about the default weights.
pub const DEFAULT_NOTE: &str = "Default weights: a demonstration model trained by this project \
    on a few hundred public CT slices from a handful of patients. It finds some lesions, but it \
    is not a diagnostic device and its class answers rest on very few patients (see \
    weights/MODEL_CARD.md). For the paper's accuracy, load the authors' checkpoints.";

/// A checkpoint the user loaded, kept so that a later file can complete the pair.
#[derive(Debug, Clone)]
pub struct UserCheckpoint {
    /// The file's name.
    pub file: String,
    /// Its weights.
    pub weights: Rc<StateDict>,
    /// Its detector settings (from the file's `config`, else the paper's).
    pub detector: DetectorConfig,
    /// The file's own description (its `description` setting), shown as the model's name.
    pub description: Option<String>,
    /// The file's lesion score threshold (its `lesion_min_score` setting).
    pub min_score: Option<f32>,
}

/// The user's checkpoints behind the active model (both `None` with the placeholder).
#[derive(Debug, Clone, Default)]
pub struct UserWeights {
    /// COVID-CT-Mask-Net (module S).
    pub classifier: Option<UserCheckpoint>,
    /// The lesion Mask R-CNN.
    pub segmenter: Option<UserCheckpoint>,
}

impl UserWeights {
    /// How the page describes a model built from these checkpoints (`placeholder_lesions`:
    /// the lesions come from the built-in placeholder).
    pub fn info_with(&self, placeholder_lesions: bool) -> ModelInfo {
        let mut info = self.info();
        if placeholder_lesions && self.segmenter.is_none() {
            info.label = info.label.replace(
                " (no segmentation model: no lesions)",
                " + placeholder lesions",
            );
            info.lesions = true;
        }
        info
    }

    /// The lesion score threshold of these checkpoints: the segmentation file's, else 0.5.
    pub fn min_score(&self) -> f32 {
        self.segmenter.as_ref().and_then(|s| s.min_score).unwrap_or(0.5)
    }

    /// How the page describes a model built from these checkpoints.
    pub fn info(&self) -> ModelInfo {
        let mut names: Vec<&str> = [&self.classifier, &self.segmenter]
            .into_iter()
            .flatten()
            .map(|c| c.file.as_str())
            .collect();
        names.dedup();
        let described = self.classifier.as_ref().and_then(|c| c.description.clone());
        let mut label = match described {
            Some(text) if names.len() == 1 => format!("{text} ({})", names[0]),
            _ => format!("your weights: {}", names.join(" + ")),
        };
        if self.segmenter.is_none() {
            label.push_str(" (no segmentation model: no lesions)");
        }
        ModelInfo {
            label,
            placeholder: false,
            default: false,
            lesions: self.segmenter.is_some(),
            min_score: self.min_score(),
        }
    }
}

/// How the page describes the placeholder.
pub fn placeholder_info() -> ModelInfo {
    ModelInfo {
        label: format!("placeholder (random ResNet-18 weights, seed {PLACEHOLDER_SEED})"),
        placeholder: true,
        default: false,
        min_score: 0.5,
        lesions: true,
    }
}

/// The weights behind the active model, kept for fine-tuning and re-pairing.
#[derive(Debug, Clone)]
pub struct ActiveWeights {
    /// The classifier's tensors.
    pub classifier: Rc<StateDict>,
    /// The classifier's detector settings.
    pub classifier_detector: DetectorConfig,
    /// The segmentation model's tensors and detector settings, if any.
    pub segmenter: Option<(Rc<StateDict>, DetectorConfig)>,
    /// Whether the segmentation model is the built-in placeholder.
    pub placeholder_segmenter: bool,
}

/// The placeholder's detector: ResNet-18, the paper's settings.
fn placeholder_detector() -> DetectorConfig {
    DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18))
}

/// The placeholder's segmentation weights.
fn placeholder_segmenter(device: &Device) -> Result<StateDict, String> {
    synthetic_weights(ModelKind::Segmentation, &placeholder_detector(), PLACEHOLDER_SEED, device)
        .map_err(|e| e.to_string())
}

/// The placeholder: ResNet-18 detector, classifier and segmentation model, seeded.
pub fn placeholder(device: &Device) -> Result<(Analyzer, ActiveWeights), String> {
    let detector = placeholder_detector();
    let classifier = synthetic_weights(
        ModelKind::Classification,
        &detector,
        PLACEHOLDER_SEED,
        device,
    )
    .map_err(|e| e.to_string())?;
    let segmenter = placeholder_segmenter(device)?;
    let analyzer = Analyzer::new(
        &classifier,
        detector.clone(),
        Some((&segmenter, detector.clone())),
        device,
    )
    .map_err(|e| e.to_string())?;
    let active = ActiveWeights {
        classifier: Rc::new(classifier),
        classifier_detector: detector.clone(),
        segmenter: Some((Rc::new(segmenter), detector)),
        placeholder_segmenter: true,
    };
    Ok((analyzer, active))
}

/// A model from a classifier and an optional segmenter, remembering what it was built from.
pub fn build(
    classifier: Rc<StateDict>,
    classifier_detector: DetectorConfig,
    segmenter: Option<(Rc<StateDict>, DetectorConfig)>,
    placeholder_segmenter: bool,
    device: &Device,
) -> Result<(Analyzer, ActiveWeights), String> {
    let analyzer = Analyzer::new(
        &classifier,
        classifier_detector.clone(),
        segmenter.as_ref().map(|(w, d)| (w.as_ref(), d.clone())),
        device,
    )
    .map_err(|e| format!("these weights do not fit the model: {e}"))?;
    Ok((
        analyzer,
        ActiveWeights {
            classifier,
            classifier_detector,
            segmenter,
            placeholder_segmenter,
        },
    ))
}

/// A model from `files` (name, bytes) plus the user's checkpoints already active: a new file
/// of one kind replaces the old one of that kind.
pub fn user_model(
    current: &UserWeights,
    files: Vec<(String, Vec<u8>)>,
    device: &Device,
) -> Result<(Analyzer, UserWeights, ActiveWeights), String> {
    if files.is_empty() {
        return Err("no file was chosen".into());
    }
    let mut weights = current.clone();
    let mut seen = Vec::new();
    let mut pairs_with_placeholder = false;
    for (name, bytes) in files {
        let checkpoint = read_checkpoint(&bytes).map_err(|e| format!("{name}: {e}"))?;
        drop(bytes);
        let kind = ModelKind::detect(&checkpoint.weights).map_err(|e| format!("{name}: {e}"))?;
        let detector = detector_config(&checkpoint.weights, &checkpoint.metadata)
            .map_err(|e| format!("{name}: {e}"))?;
        // One file may hold both models on one detector (the default weights' layout).
        let parts: Vec<(ModelKind, StateDict)> = match split_combined(&checkpoint.weights) {
            Some((classifier, segmenter)) => vec![
                (ModelKind::Classification, classifier),
                (ModelKind::Segmentation, segmenter),
            ],
            None => vec![(kind, checkpoint.weights)],
        };
        for (kind, tensors) in parts {
            if seen.contains(&kind) {
                return Err(format!(
                    "two {} checkpoints were chosen; choose at most one of each kind",
                    kind.name()
                ));
            }
            seen.push(kind);
            if kind == ModelKind::Classification {
                pairs_with_placeholder = checkpoint
                    .metadata
                    .get(PAIRED_SEGMENTER_KEY)
                    .is_some_and(|v| v == "placeholder");
            }
            let loaded = Some(UserCheckpoint {
                file: name.clone(),
                weights: Rc::new(tensors),
                detector: detector.clone(),
                description: checkpoint.metadata.get("description").cloned(),
                min_score: crate::analysis::lesion_min_score(&checkpoint.metadata),
            });
            match kind {
                ModelKind::Classification => weights.classifier = loaded,
                ModelKind::Segmentation => weights.segmenter = loaded,
            }
        }
    }

    let Some(classifier) = &weights.classifier else {
        return Err(
            "a segmentation checkpoint alone cannot classify slices: also load the \
                    classification checkpoint (classification_model.pth)"
                .into(),
        );
    };
    // A classifier fine-tuned over the placeholder comes back with the placeholder's lesions.
    let (segmenter, placeholder) = match &weights.segmenter {
        Some(s) => (Some((s.weights.clone(), s.detector.clone())), false),
        None if pairs_with_placeholder => (
            Some((Rc::new(placeholder_segmenter(device)?), placeholder_detector())),
            true,
        ),
        None => (None, false),
    };
    let (mut analyzer, active) = build(
        classifier.weights.clone(),
        classifier.detector.clone(),
        segmenter,
        placeholder,
        device,
    )?;
    analyzer.min_score = weights.min_score();
    Ok((analyzer, weights, active))
}
