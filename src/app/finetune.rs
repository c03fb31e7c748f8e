//! Fine-tuning module S from the page: the labelled rows' S inputs (already computed when the
//! slices were analysed) go to the engine, which runs one epoch per request so the page can
//! show progress and stop or go on; the kept epoch's model then becomes the active one, is
//! saved in the browser with the user's other weights, and can be exported.

use leptos::prelude::*;

use super::state::{AppState, FineTuneStatus, ModelStatus, Row};
use super::weights_store;
use crate::batch::{LabelledRow, labelled_split};
use crate::engine::{FINE_TUNED_FILE, FineTuneSettings, FineTuneSetup, Reply, Request};

/// The labelled rows that can train: analysed, with the active model's weights.
pub struct Usable {
    /// Their split, in order of arrival.
    pub rows: Vec<LabelledRow>,
    /// Labelled rows left out: not analysed (yet), or analysed with other weights.
    pub left_out: usize,
}

/// Which labelled rows fine-tuning would use now.
pub fn usable(rows: &[Row], seed: u64, weights: Option<&str>) -> Usable {
    let split = labelled_split(rows, seed);
    let ok = |l: &LabelledRow| {
        rows.iter().any(|r| {
            r.id == l.id
                && r.result.is_some()
                && weights.is_some()
                && r.weights.as_deref() == weights
        })
    };
    let total = split.len();
    let rows: Vec<LabelledRow> = split.into_iter().filter(ok).collect();
    Usable {
        left_out: total - rows.len(),
        rows,
    }
}

fn fail(state: AppState, message: String) {
    state.finetune.status.set(FineTuneStatus::Failed(message));
}

/// Starts fine-tuning from the active model on the usable labelled rows.
pub fn start(state: AppState) {
    let ft = state.finetune;
    let rows = state.rows.get_untracked();
    let label = state.model_label();
    let set = usable(&rows, ft.seed.get_untracked(), label.as_deref());
    if set.rows.is_empty() {
        return fail(
            state,
            "No labelled slice analysed with the active model: give slices a class in the \
             table's Label column (or drop files named NCP_..., CP_..., Normal_...)"
                .into(),
        );
    }
    let mut features = Vec::new();
    for l in &set.rows {
        if let Some(result) = rows
            .iter()
            .find(|r| r.id == l.id)
            .and_then(|r| r.result.clone())
        {
            features.extend_from_slice(&result.analysis.ranked_boxes);
        }
    }
    let setup = FineTuneSetup {
        features,
        labels: set.rows.iter().map(|l| l.label).collect(),
        validation: set.rows.iter().map(|l| l.validation).collect(),
        settings: FineTuneSettings {
            learning_rate: ft.learning_rate.get_untracked(),
            weight_decay: ft.weight_decay.get_untracked(),
            batch_size: ft.batch_size.get_untracked(),
            seed: ft.seed.get_untracked(),
        },
    };
    ft.history.set(Vec::new());
    ft.stop.set(false);
    ft.status.set(FineTuneStatus::Running);
    leptos::task::spawn_local(async move {
        let reply = state.request(Request::FineTuneStart(setup)).await;
        match reply {
            Ok(Reply::FineTuneProgress(report)) => {
                ft.history.set(vec![report]);
                run_epochs(state).await;
            }
            Ok(Reply::FineTuneFailed(message)) | Err(message) => fail(state, message),
            Ok(other) => fail(
                state,
                format!("unexpected answer from the engine: {other:?}"),
            ),
        }
    });
}

/// Goes on from the last epoch up to the number of epochs asked for.
pub fn resume(state: AppState) {
    state.finetune.stop.set(false);
    state.finetune.status.set(FineTuneStatus::Running);
    leptos::task::spawn_local(run_epochs(state));
}

async fn run_epochs(state: AppState) {
    let ft = state.finetune;
    loop {
        let done = ft
            .history
            .with_untracked(|h| h.last().map_or(0, |r| r.epoch));
        if done >= ft.epochs.get_untracked() || ft.stop.get_untracked() {
            ft.status.set(FineTuneStatus::Stopped);
            return;
        }
        let reply = state.request(Request::FineTuneEpoch).await;
        match reply {
            Ok(Reply::FineTuneProgress(report)) => ft.history.update(|h| h.push(report)),
            Ok(Reply::FineTuneFailed(message)) | Err(message) => {
                return fail(state, format!("{message}. Start again."));
            }
            Ok(other) => {
                return fail(
                    state,
                    format!("unexpected answer from the engine: {other:?}"),
                );
            }
        }
    }
}

/// Makes the kept epoch's model active and saves it in the browser with the other weights.
pub fn apply(state: AppState) {
    let ft = state.finetune;
    leptos::task::spawn_local(async move {
        let reply = state.request(Request::FineTuneApply).await;
        let (info, file, bytes) = match reply {
            Ok(Reply::FineTuned { info, file, bytes }) => (info, file, bytes),
            Ok(Reply::FineTuneFailed(message)) | Err(message) => return fail(state, message),
            Ok(other) => {
                return fail(
                    state,
                    format!("unexpected answer from the engine: {other:?}"),
                );
            }
        };
        state.model.set(ModelStatus::Ready(info));
        match file_of(&bytes, &file) {
            Ok(handle) => {
                // A new fine-tuned model replaces an earlier one in the loads to replay.
                state.model_files.update_value(|loads| {
                    loads.retain(|load| !(load.len() == 1 && load[0].name() == FINE_TUNED_FILE));
                    loads.push(vec![handle]);
                });
                let saved = weights_store::save(&state.model_files.get_value()).await;
                state.weights_saved.set(Some(saved));
            }
            Err(message) => state.weights_saved.set(Some(Err(message))),
        }
        ft.result.set_value(Some((file, bytes)));
        ft.has_result.set(true);
    });
}

/// A browser `File` holding `bytes`.
fn file_of(bytes: &[u8], name: &str) -> Result<web_sys::File, String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::File::new_with_u8_array_sequence(&parts, name)
        .map_err(|e| format!("the browser could not hold the fine-tuned weights ({e:?})"))
}
