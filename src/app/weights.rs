//! Building the active models: the seeded placeholder, or the checkpoints the user loads.
//!
//! Errors never replace the active model: it changes only once the new one is fully built.

use std::rc::Rc;

use leptos::prelude::*;

use super::browser::{read_bytes, yield_to_browser};
use super::state::{ActiveModel, AppState, ModelInfo, ModelStatus, UserCheckpoint, UserWeights};
use crate::analysis::Analyzer;
use crate::backbone::BackboneConfig;
use crate::backend;
use crate::config::DetectorConfig;
use crate::importer::read_checkpoint;
use crate::model::{ModelKind, synthetic_weights};

/// Seed of the placeholder weights. Both models use it, so their detectors are identical and
/// one detector pass serves both.
pub const PLACEHOLDER_SEED: u64 = 2020;

/// What the page says about the placeholder.
pub const PLACEHOLDER_NOTE: &str = "Placeholder model: random seeded weights, not a trained \
    model; results mean nothing. Load the authors' checkpoints to get real predictions.";

/// Builds the placeholder (ResNet-18 detector, classifier and segmentation) and activates it.
pub fn use_placeholder(state: AppState) {
    state
        .model
        .set(ModelStatus::Busy("Building the placeholder model…".into()));
    leptos::task::spawn_local(async move {
        // Let the page show "building" before the main thread is busy.
        yield_to_browser().await;
        match build_placeholder() {
            Ok(analyzer) => {
                activate(state, analyzer, UserWeights::default(), placeholder_info());
                state.weights_error.set(None);
            }
            Err(message) => {
                log::error!("placeholder model: {message}");
                state.model.set(ModelStatus::Failed(message));
            }
        }
    });
}

fn placeholder_info() -> ModelInfo {
    ModelInfo {
        label: "placeholder (random ResNet-18 weights, seed 2020)".into(),
        placeholder: true,
        lesions: true,
    }
}

fn build_placeholder() -> Result<Analyzer, String> {
    let device = backend::cpu().device;
    let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
    let make = |kind| {
        synthetic_weights(kind, &detector, PLACEHOLDER_SEED, &device).map_err(|e| e.to_string())
    };
    let classifier = make(ModelKind::Classification)?;
    let segmenter = make(ModelKind::Segmentation)?;
    Analyzer::new(&classifier, Some(&segmenter), &device).map_err(|e| e.to_string())
}

fn activate(state: AppState, analyzer: Analyzer, weights: UserWeights, info: ModelInfo) {
    state.active.set_value(Some(ActiveModel {
        analyzer: Rc::new(analyzer),
        info: info.clone(),
    }));
    state.user_weights.set_value(weights);
    state.model.set(ModelStatus::Ready(info));
}

/// Reads the user's checkpoint files and, if they make a usable model, activates it.
pub fn load_user_weights(state: AppState, files: Vec<web_sys::File>) {
    if files.is_empty() {
        return;
    }
    let previous = state.model.get_untracked();
    state.weights_error.set(None);
    state
        .model
        .set(ModelStatus::Busy("Loading your weights…".into()));
    leptos::task::spawn_local(async move {
        yield_to_browser().await;
        match build_user_model(state, &files).await {
            Ok((analyzer, weights)) => {
                let info = user_info(&weights);
                activate(state, analyzer, weights, info);
            }
            Err(message) => {
                state.weights_error.set(Some(message));
                state.model.set(previous);
            }
        }
    });
}

/// The new model from `files` plus the user's checkpoints already active (a new file of one
/// kind replaces the old one of that kind).
async fn build_user_model(
    state: AppState,
    files: &[web_sys::File],
) -> Result<(Analyzer, UserWeights), String> {
    let mut weights = state.user_weights.get_value();
    let mut seen = Vec::new();
    for file in files {
        let name = file.name();
        let bytes = read_bytes(file).await.map_err(|e| format!("{name}: {e}"))?;
        yield_to_browser().await;
        let checkpoint = read_checkpoint(&bytes).map_err(|e| format!("{name}: {e}"))?;
        drop(bytes);
        let kind = ModelKind::detect(&checkpoint.weights).map_err(|e| format!("{name}: {e}"))?;
        if seen.contains(&kind) {
            return Err(format!(
                "two {} checkpoints were chosen; choose at most one of each kind",
                kind.name()
            ));
        }
        seen.push(kind);
        let loaded = Some(UserCheckpoint {
            file: name,
            weights: Rc::new(checkpoint.weights),
        });
        match kind {
            ModelKind::Classification => weights.classifier = loaded,
            ModelKind::Segmentation => weights.segmenter = loaded,
        }
        yield_to_browser().await;
    }

    let Some(classifier) = &weights.classifier else {
        return Err(
            "a segmentation checkpoint alone cannot classify slices: also load the \
                    classification checkpoint (classification_model.pth)"
                .into(),
        );
    };
    let device = backend::cpu().device;
    let analyzer = Analyzer::new(
        &classifier.weights,
        weights.segmenter.as_ref().map(|s| s.weights.as_ref()),
        &device,
    )
    .map_err(|e| format!("these weights do not fit the model: {e}"))?;
    Ok((analyzer, weights))
}

fn user_info(weights: &UserWeights) -> ModelInfo {
    let mut names: Vec<&str> = Vec::new();
    if let Some(c) = &weights.classifier {
        names.push(&c.file);
    }
    if let Some(s) = &weights.segmenter {
        names.push(&s.file);
    }
    let mut label = format!("your weights: {}", names.join(" + "));
    if weights.segmenter.is_none() {
        label.push_str(" (no segmentation model: no lesions)");
    }
    ModelInfo {
        label,
        placeholder: false,
        lesions: weights.segmenter.is_some(),
    }
}
