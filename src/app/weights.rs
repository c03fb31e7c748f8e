//! Choosing the active model: the seeded placeholder, or the checkpoints the user loads. The
//! engine builds them (in its worker); the page reads the files and shows where things stand.
//!
//! Errors never replace the active model: it changes only once the new one is fully built.

use leptos::prelude::*;

use super::browser::read_bytes;
use super::state::{AppState, ModelStatus};
use crate::engine::{Reply, Request};

pub use crate::engine::PLACEHOLDER_NOTE;

/// Activates the placeholder model.
pub fn use_placeholder(state: AppState) {
    state
        .model
        .set(ModelStatus::Busy("Building the placeholder model…".into()));
    leptos::task::spawn_local(async move {
        match placeholder(state).await {
            Ok(()) => state.weights_error.set(None),
            Err(message) => {
                log::error!("placeholder model: {message}");
                state.model.set(ModelStatus::Failed(message));
            }
        }
    });
}

async fn placeholder(state: AppState) -> Result<(), String> {
    match state.engine()?.request(Request::UsePlaceholder).await? {
        Reply::ModelReady(info) => {
            state.model_files.set_value(Vec::new());
            state.model.set(ModelStatus::Ready(info));
            Ok(())
        }
        Reply::ModelFailed(message) => Err(message),
        other => Err(format!("unexpected answer from the engine: {other:?}")),
    }
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
        .set(ModelStatus::Busy("Reading and converting your weights…".into()));
    leptos::task::spawn_local(async move {
        match load(state, &files).await {
            Ok(()) => state.model_files.update_value(|loads| loads.push(files)),
            Err(message) => {
                state.weights_error.set(Some(message));
                state.model.set(previous);
            }
        }
    });
}

async fn load(state: AppState, files: &[web_sys::File]) -> Result<(), String> {
    let mut named = Vec::with_capacity(files.len());
    for file in files {
        let name = file.name();
        let bytes = read_bytes(file).await.map_err(|e| format!("{name}: {e}"))?;
        named.push((name, bytes));
    }
    match state.engine()?.request(Request::LoadWeights(named)).await? {
        Reply::ModelReady(info) => {
            state.model.set(ModelStatus::Ready(info));
            Ok(())
        }
        Reply::WeightsRefused(message) => Err(message),
        other => Err(format!("unexpected answer from the engine: {other:?}")),
    }
}

/// After the engine restarted with no model: builds the model that was active again (the
/// placeholder, or the user's checkpoint files in the order they were loaded).
pub fn restore_model(state: AppState, reason: String) {
    let loads = state.model_files.get_value();
    state.model.set(ModelStatus::Busy(format!(
        "Reloading the model: {reason}…"
    )));
    leptos::task::spawn_local(async move {
        if loads.is_empty() {
            if let Err(message) = placeholder(state).await {
                state.model.set(ModelStatus::Failed(message));
            }
            return;
        }
        for files in &loads {
            if let Err(message) = load(state, files).await {
                // The files may have been moved or deleted since: fall back to the placeholder.
                state.weights_error.set(Some(format!(
                    "your weights could not be reloaded after a restart ({message})"
                )));
                if let Err(message) = placeholder(state).await {
                    state.model.set(ModelStatus::Failed(message));
                }
                return;
            }
        }
    });
}
