//! The page's shared state: reactive signals for what the page shows, and local (non-`Send`)
//! slots for the models and the files waiting to be analysed.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use image::RgbImage;
use leptos::prelude::*;

use crate::analysis::{Analyzer, SliceAnalysis};
use crate::importer::StateDict;

/// What the backend indicator says.
pub const BACKEND_LABEL: &str = "CPU (WebAssembly)";

/// Where a file of the batch stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RowStatus {
    /// Waiting for its turn.
    Queued,
    /// Being decoded and analysed.
    Running,
    /// Analysed; the result is in [`Row::result`].
    Done,
    /// Could not be analysed; the message says why, in plain words.
    Failed(String),
}

/// Everything kept about one analysed slice, so views can redraw without re-running the model.
#[derive(Debug)]
pub struct SliceResult {
    /// The decoded slice.
    pub image: RgbImage,
    /// The model's answer.
    pub analysis: SliceAnalysis,
    /// Milliseconds from reading the file to the answer.
    pub total_ms: f64,
}

/// One file of the batch.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable identifier (order of arrival).
    pub id: usize,
    /// The file's name.
    pub name: String,
    /// Where it stands.
    pub status: RowStatus,
    /// The result once [`RowStatus::Done`].
    pub result: Option<Arc<SliceResult>>,
    /// The weights that produced the result (results of different weights may share a batch).
    pub weights: Option<String>,
}

/// Which model is active, as the page describes it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
    /// A model is being built or loaded; the text says which.
    Busy(String),
    /// A model is active.
    Ready(ModelInfo),
    /// No model could be built (only if even the placeholder fails).
    Failed(String),
}

/// Description of the active model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Plain-words name of the weights in use.
    pub label: String,
    /// Whether these are the seeded random placeholder weights.
    pub placeholder: bool,
    /// Whether a segmentation model is present (lesions, masks, areas).
    pub lesions: bool,
}

/// The models in use and their description.
#[derive(Debug, Clone)]
pub struct ActiveModel {
    /// Both models, ready to analyse slices.
    pub analyzer: Rc<Analyzer>,
    /// What they are.
    pub info: ModelInfo,
}

/// A checkpoint the user loaded, kept so that a later file can complete the pair.
#[derive(Debug, Clone)]
pub struct UserCheckpoint {
    /// The file's name.
    pub file: String,
    /// Its weights.
    pub weights: Rc<StateDict>,
}

/// The user's checkpoints behind the active model (both `None` with the placeholder).
#[derive(Debug, Clone, Default)]
pub struct UserWeights {
    /// COVID-CT-Mask-Net (module S).
    pub classifier: Option<UserCheckpoint>,
    /// The lesion Mask R-CNN.
    pub segmenter: Option<UserCheckpoint>,
}

/// How the selected slice's overlay is drawn.
#[derive(Debug, Clone, Copy)]
pub struct OverlaySettings {
    /// Mask tint opacity, 0 to 1.
    pub opacity: RwSignal<f32>,
    /// Draw ground-glass opacity.
    pub show_ggo: RwSignal<bool>,
    /// Draw consolidation.
    pub show_consolidation: RwSignal<bool>,
    /// Boxes scoring below this are hidden.
    pub min_score: RwSignal<f32>,
}

/// Sortable columns of the batch table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Order of arrival.
    Arrival,
    /// File name.
    File,
    /// Predicted class.
    Class,
    /// Probability of COVID-19.
    Covid,
    /// GGO area.
    Ggo,
    /// Consolidation area.
    Consolidation,
    /// Time taken.
    Time,
}

/// The whole page's state; cheap to copy into every component and closure.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// What the header and weights panel say about the model.
    pub model: RwSignal<ModelStatus>,
    /// The last weights error, shown until the next load.
    pub weights_error: RwSignal<Option<String>>,
    /// The active models (`None` until the placeholder is built).
    pub active: StoredValue<Option<ActiveModel>, LocalStorage>,
    /// The user's checkpoints behind the active model.
    pub user_weights: StoredValue<UserWeights, LocalStorage>,
    /// The batch, in order of arrival.
    pub rows: RwSignal<Vec<Row>>,
    /// Files waiting to be analysed, with their row ids.
    pub queue: StoredValue<VecDeque<(usize, web_sys::File)>, LocalStorage>,
    /// Whether the queue is being worked through.
    pub running: RwSignal<bool>,
    /// Next row id.
    pub next_id: StoredValue<usize>,
    /// The selected row's id.
    pub selected: RwSignal<Option<usize>>,
    /// Overlay drawing settings.
    pub overlay: OverlaySettings,
    /// Sort column and whether ascending.
    pub sort: RwSignal<(SortColumn, bool)>,
}

impl AppState {
    /// Fresh state: no model yet, empty batch.
    pub fn new() -> Self {
        Self {
            model: RwSignal::new(ModelStatus::Busy("Building the placeholder model…".into())),
            weights_error: RwSignal::new(None),
            active: StoredValue::new_local(None),
            user_weights: StoredValue::new_local(UserWeights::default()),
            rows: RwSignal::new(Vec::new()),
            queue: StoredValue::new_local(VecDeque::new()),
            running: RwSignal::new(false),
            next_id: StoredValue::new(0),
            selected: RwSignal::new(None),
            overlay: OverlaySettings {
                opacity: RwSignal::new(0.45),
                show_ggo: RwSignal::new(true),
                show_consolidation: RwSignal::new(true),
                min_score: RwSignal::new(0.5),
            },
            sort: RwSignal::new((SortColumn::Arrival, true)),
        }
    }

    /// The selected row's result, if it has one (tracks the rows and the selection).
    pub fn selected_result(&self) -> Option<(String, Arc<SliceResult>)> {
        let id = self.selected.get()?;
        self.rows.with(|rows| {
            rows.iter()
                .find(|r| r.id == id)
                .and_then(|r| r.result.clone().map(|res| (r.name.clone(), res)))
        })
    }

    /// Changes one row.
    pub fn update_row(&self, id: usize, change: impl FnOnce(&mut Row)) {
        self.rows.update(|rows| {
            if let Some(row) = rows.iter_mut().find(|r| r.id == id) {
                change(row);
            }
        });
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// The page's words for a class key of [`crate::model::SlicePrediction`].
pub fn class_label(key: &str) -> &'static str {
    match key {
        "normal" => "normal",
        "pneumonia" => "common pneumonia",
        "covid" => "COVID-19",
        _ => "unknown",
    }
}
