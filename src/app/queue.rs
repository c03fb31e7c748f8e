//! The batch queue: every file becomes a row at once, then files are sent to the engine one at
//! a time (only the file being analysed is held in memory), and each row is updated as its
//! answer comes back.

use std::sync::Arc;

use leptos::prelude::*;

use super::browser::read_bytes;
use super::state::{AppState, ModelStatus, Row, RowStatus, SliceResult};
use crate::engine::{Reply, Request, capitalise};

/// Adds files to the batch and starts working through the queue if it is idle.
pub fn enqueue(state: AppState, files: Vec<web_sys::File>) {
    let mut new_rows = Vec::with_capacity(files.len());
    for file in files {
        let id = state.next_id.get_value();
        state.next_id.set_value(id + 1);
        new_rows.push(Row::new(id, file.name()));
        state.queue.update_value(|q| q.push_back((id, file, 0)));
    }
    // One update for the whole drop: the table is drawn once, not once per file.
    state.rows.update(|rows| rows.extend(new_rows));
    if !state.running.get_untracked() {
        state.running.set(true);
        leptos::task::spawn_local(work_through(state));
    }
}

async fn work_through(state: AppState) {
    while let Some((id, file, attempts)) = state.queue.try_update_value(|q| q.pop_front()).flatten()
    {
        // Wait until a model is active (the placeholder is built at start-up).
        let label = wait_for_model(state).await;
        state.update_row(id, |row| row.status = RowStatus::Running);

        match analyse_file(state, id, &file).await {
            Ok(result) => {
                let first_result = state
                    .rows
                    .with_untracked(|rows| rows.iter().all(|r| r.result.is_none()));
                state.update_row(id, |row| {
                    row.status = RowStatus::Done;
                    row.result = Some(Arc::new(result));
                    row.weights = Some(label);
                });
                if first_result || state.selected.get_untracked().is_none() {
                    state.selected.set(Some(id));
                }
            }
            // The engine stopped or was restarted (backend switch, crash) while on this
            // file: try it once more on the new engine, first in line.
            Err(Failure::Engine(_)) if attempts == 0 => {
                state.update_row(id, |row| row.status = RowStatus::Queued);
                state
                    .queue
                    .update_value(|q| q.push_front((id, file, attempts + 1)));
            }
            Err(Failure::Engine(message)) => state.update_row(id, |row| {
                row.status = RowStatus::Failed(format!(
                    "{message}, twice while on this file (it may need more memory than this \
                     device has)"
                ))
            }),
            Err(Failure::File(message)) => {
                state.update_row(id, |row| row.status = RowStatus::Failed(message))
            }
        }
    }
    state.running.set(false);
}

/// The active model's label, once there is one.
async fn wait_for_model(state: AppState) -> String {
    loop {
        if let ModelStatus::Ready(info) = state.model.get_untracked() {
            return info.label;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
}

/// Why a file has no result; both in plain words for its row.
enum Failure {
    /// The file itself (unreadable, not an image, too small, ...).
    File(String),
    /// The engine stopped before answering (restart, crash).
    Engine(String),
}

/// Reads one file and has the engine analyse it.
async fn analyse_file(
    state: AppState,
    id: usize,
    file: &web_sys::File,
) -> Result<SliceResult, Failure> {
    let bytes = read_bytes(file)
        .await
        .map_err(|e| Failure::File(capitalise(&e)))?;
    // A DICOM header names the study and the slice's position (it wins over the name's).
    if let Some(place) = crate::study::dicom_place(&bytes) {
        state.update_row(id, |row| row.place = Some(place));
    }
    let request = Request::Analyse {
        name: file.name(),
        bytes,
        window: state.dicom_window.get_untracked(),
    };
    let engine = state.engine().map_err(Failure::Engine)?;
    match engine
        .request(request)
        .await
        .map_err(|e| Failure::Engine(capitalise(&e)))?
    {
        Reply::Analysed(result) => Ok(*result),
        Reply::AnalysisFailed(message) => Err(Failure::File(message)),
        other => Err(Failure::File(format!(
            "Unexpected answer from the engine: {other:?}"
        ))),
    }
}
