//! The page's shared state: reactive signals for what the page shows, and local (non-`Send`)
//! slots for the engine and the files waiting to be analysed.

use std::collections::VecDeque;
use std::sync::Arc;

use leptos::prelude::*;

use super::client::{BackendChoice, EngineClient};
pub use crate::batch::{Row, RowStatus, SortColumn, class_label};
pub use crate::engine::{AnalysedSlice as SliceResult, EpochReport, ModelInfo};

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

/// Where fine-tuning stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FineTuneStatus {
    /// Not started (or the model changed since).
    Idle,
    /// Epochs are running.
    Running,
    /// Stopped by the user or finished; can go on.
    Stopped,
    /// The last request failed; the message says why.
    Failed(String),
}

/// Fine-tuning's settings, progress and result.
#[derive(Debug, Clone, Copy)]
pub struct FineTuneState {
    /// Seed of the train/validation split.
    pub seed: RwSignal<u64>,
    /// Epochs to reach.
    pub epochs: RwSignal<usize>,
    /// Adam learning rate.
    pub learning_rate: RwSignal<f64>,
    /// Slices per step.
    pub batch_size: RwSignal<usize>,
    /// Adam weight decay.
    pub weight_decay: RwSignal<f64>,
    /// Where it stands.
    pub status: RwSignal<FineTuneStatus>,
    /// One report per epoch done (epoch 0 first).
    pub history: RwSignal<Vec<EpochReport>>,
    /// Set by the Stop button; the loop stops after the current epoch.
    pub stop: RwSignal<bool>,
    /// The last fine-tuned model made active: file name and bytes (for export).
    pub result: StoredValue<Option<(String, Vec<u8>)>, LocalStorage>,
    /// Whether [`Self::result`] holds a model.
    pub has_result: RwSignal<bool>,
}

/// The whole page's state; cheap to copy into every component and closure.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// What the header and weights panel say about the model.
    pub model: RwSignal<ModelStatus>,
    /// The last weights error, shown until the next load.
    pub weights_error: RwSignal<Option<String>>,
    /// Whether the user's weights were saved in the browser for the next visit (`None` for the
    /// placeholder).
    pub weights_saved: RwSignal<Option<Result<(), String>>>,
    /// What the backend indicator says (from the engine's hello).
    pub backend: RwSignal<String>,
    /// The GPU adapter and its limits, or why the GPU is not used (for the diagnostics).
    pub backend_detail: RwSignal<String>,
    /// The backend the engine was asked for.
    pub backend_choice: RwSignal<BackendChoice>,
    /// The warm-up pass: `None` before the first, else what happened.
    pub warm_up: RwSignal<Option<String>>,
    /// The engine (set once at start-up).
    pub engine: StoredValue<Option<EngineClient>, LocalStorage>,
    /// The checkpoint files of each accepted load since the placeholder, in order: replayed
    /// if the engine has to be restarted.
    pub model_files: StoredValue<Vec<Vec<web_sys::File>>, LocalStorage>,
    /// The default weights' download: bytes so far and the total when known (`None` when no
    /// download is running).
    pub download: RwSignal<Option<(u64, Option<u64>)>>,
    /// Whether the default weights are the active model (restored after an engine restart).
    pub default_active: StoredValue<bool>,
    /// The window DICOM slices are analysed in (`lung`, `mediastinum` or `file`), read when
    /// a file's turn comes.
    pub dicom_window: RwSignal<String>,
    /// The batch, in order of arrival.
    pub rows: RwSignal<Vec<Row>>,
    /// Files waiting to be analysed, with their row ids and how often the engine stopped
    /// while on them.
    pub queue: StoredValue<VecDeque<(usize, web_sys::File, u8)>, LocalStorage>,
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
    /// Fine-tuning module S.
    pub finetune: FineTuneState,
}

impl AppState {
    /// Fresh state: no model yet, empty batch.
    pub fn new() -> Self {
        Self {
            model: RwSignal::new(ModelStatus::Busy("Starting the engine…".into())),
            weights_error: RwSignal::new(None),
            weights_saved: RwSignal::new(None),
            backend: RwSignal::new("starting…".into()),
            backend_detail: RwSignal::new(String::new()),
            backend_choice: RwSignal::new(BackendChoice::Auto),
            warm_up: RwSignal::new(None),
            engine: StoredValue::new_local(None),
            model_files: StoredValue::new_local(Vec::new()),
            download: RwSignal::new(None),
            default_active: StoredValue::new(false),
            dicom_window: RwSignal::new("lung".to_string()),
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
            finetune: FineTuneState {
                seed: RwSignal::new(0),
                epochs: RwSignal::new(50),
                learning_rate: RwSignal::new(1e-5),
                batch_size: RwSignal::new(8),
                weight_decay: RwSignal::new(1e-3),
                status: RwSignal::new(FineTuneStatus::Idle),
                history: RwSignal::new(Vec::new()),
                stop: RwSignal::new(false),
                result: StoredValue::new_local(None),
                has_result: RwSignal::new(false),
            },
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

    /// The engine, started by [`super::mount`] before any component runs.
    pub fn engine(&self) -> Result<EngineClient, String> {
        self.engine
            .get_value()
            .ok_or_else(|| "the engine has not started".to_string())
    }

    /// Sends `request` to the engine and waits for its reply.
    pub async fn request(
        &self,
        request: crate::engine::Request,
    ) -> Result<crate::engine::Reply, String> {
        self.engine()?.request(request).await
    }

    /// The active model's label, if one is active.
    pub fn model_label(&self) -> Option<String> {
        match self.model.get_untracked() {
            ModelStatus::Ready(info) => Some(info.label),
            _ => None,
        }
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
