//! Choosing the active model: the default weights shipped beside the page, the seeded
//! placeholder, or the checkpoints the user loads. The engine builds them (in its worker); the
//! page reads the files and shows where things stand.
//!
//! Errors never replace the active model: it changes only once the new one is fully built.
//! The user's files are kept in the browser ([`super::weights_store`]) so that the next visit
//! starts with them; going back to the placeholder forgets them.

use leptos::prelude::*;

use super::browser::{fetch_with_progress, read_bytes, url_param};
use super::state::{AppState, ModelStatus};
use super::weights_store;
use crate::engine::{DEFAULT_WEIGHTS_FILE, Reply, Request};

pub use crate::engine::{DEFAULT_NOTE, PLACEHOLDER_NOTE};

/// At start-up: the weights saved in this browser if there are any and they still load,
/// otherwise the default weights (`?model=placeholder` in the address skips them), otherwise
/// the placeholder.
pub fn start(state: AppState) {
    state
        .model
        .set(ModelStatus::Busy("Looking for saved weights…".into()));
    leptos::task::spawn_local(async move {
        let saved = weights_store::load().await.unwrap_or_else(|message| {
            log::warn!("saved weights: {message}");
            Vec::new()
        });
        if !saved.is_empty() {
            state.model.set(ModelStatus::Busy(
                "Loading the weights saved in this browser…".into(),
            ));
            match replay(state, &saved).await {
                Ok(()) => {
                    state.model_files.set_value(saved);
                    state.weights_saved.set(Some(Ok(())));
                    warm_up(state).await;
                    return;
                }
                Err(message) => {
                    let _ = weights_store::clear().await;
                    state.weights_error.set(Some(format!(
                        "the weights saved in this browser could not be loaded and were \
                         removed ({message})"
                    )));
                }
            }
        }
        if url_param("model").as_deref() != Some("placeholder") && default_or_note(state).await {
            warm_up(state).await;
            return;
        }
        if placeholder_or_fail(state).await {
            warm_up(state).await;
        }
    });
}

/// Activates the default weights; when they cannot be had, says why (the caller falls back to
/// the placeholder). Returns whether they are active.
async fn default_or_note(state: AppState) -> bool {
    state
        .model
        .set(ModelStatus::Busy("Loading the default weights…".into()));
    match default_weights(state).await {
        Ok(()) => true,
        Err(message) => {
            log::warn!("default weights: {message}");
            state.weights_error.set(Some(format!(
                "the default weights could not be loaded ({message}); the placeholder is used"
            )));
            false
        }
    }
}

async fn default_weights(state: AppState) -> Result<(), String> {
    let bytes = fetch_with_progress(DEFAULT_WEIGHTS_FILE, |done, total| {
        state.download.set(Some((done, total)));
    })
    .await;
    state.download.set(None);
    let bytes = bytes?;
    state
        .model
        .set(ModelStatus::Busy("Checking and loading the default weights…".into()));
    if let Err(message) = crate::engine::verify_default_weights(&bytes) {
        // A damaged copy in the offline cache would fail every visit: drop it.
        weights_store::forget_cached(DEFAULT_WEIGHTS_FILE).await;
        return Err(message);
    }
    match state.engine()?.request(Request::UseDefault(bytes)).await? {
        Reply::ModelReady(info) => {
            state.model_files.set_value(Vec::new());
            state.default_active.set_value(true);
            state.model.set(ModelStatus::Ready(info));
            Ok(())
        }
        Reply::WeightsRefused(message) => Err(message),
        other => Err(format!("unexpected answer from the engine: {other:?}")),
    }
}

/// Activates the default weights (else the placeholder) and forgets the saved weights.
pub fn use_default(state: AppState) {
    leptos::task::spawn_local(async move {
        if let Err(message) = weights_store::clear().await {
            log::warn!("saved weights: {message}");
        }
        state.weights_saved.set(None);
        state.weights_error.set(None);
        if default_or_note(state).await || placeholder_or_fail(state).await {
            warm_up(state).await;
        }
    });
}

/// Activates the placeholder model and forgets the saved weights.
pub fn use_placeholder(state: AppState) {
    state
        .model
        .set(ModelStatus::Busy("Building the placeholder model…".into()));
    leptos::task::spawn_local(async move {
        if let Err(message) = weights_store::clear().await {
            log::warn!("saved weights: {message}");
        }
        state.weights_saved.set(None);
        if placeholder_or_fail(state).await {
            state.weights_error.set(None);
            warm_up(state).await;
        }
    });
}

/// Activates the placeholder; if even that fails, the page says there is no model. Returns
/// whether it is active.
async fn placeholder_or_fail(state: AppState) -> bool {
    match placeholder(state).await {
        Ok(()) => true,
        Err(message) => {
            log::error!("placeholder model: {message}");
            state.model.set(ModelStatus::Failed(message));
            false
        }
    }
}

async fn placeholder(state: AppState) -> Result<(), String> {
    match state.engine()?.request(Request::UsePlaceholder).await? {
        Reply::ModelReady(info) => {
            state.model_files.set_value(Vec::new());
            state.default_active.set_value(false);
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
    state.model.set(ModelStatus::Busy(
        "Reading and converting your weights…".into(),
    ));
    leptos::task::spawn_local(async move {
        match load(state, &files).await {
            Ok(()) => {
                state.model_files.update_value(|loads| loads.push(files));
                let saved = weights_store::save(&state.model_files.get_value()).await;
                if let Err(message) = &saved {
                    log::warn!("saved weights: {message}");
                }
                state.weights_saved.set(Some(saved));
                warm_up(state).await;
            }
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
    let was_default = state.default_active.get_value();
    state
        .model
        .set(ModelStatus::Busy(format!("Reloading the model: {reason}…")));
    leptos::task::spawn_local(async move {
        // The user's files were loaded on top of the default weights when those were active.
        let base = was_default && default_or_note(state).await;
        if !loads.is_empty() {
            match replay(state, &loads).await {
                Ok(()) => {
                    state.model_files.set_value(loads);
                    return warm_up(state).await;
                }
                // The files may have been moved or deleted since: fall back to the base model.
                Err(message) => state.weights_error.set(Some(format!(
                    "your weights could not be reloaded after a restart ({message})"
                ))),
            }
        }
        if base {
            state.model_files.set_value(Vec::new());
            return warm_up(state).await;
        }
        if placeholder_or_fail(state).await {
            warm_up(state).await;
        }
    });
}

/// Loads each of `loads` in order, stopping at the first that fails.
async fn replay(state: AppState, loads: &[Vec<web_sys::File>]) -> Result<(), String> {
    for files in loads {
        load(state, files).await?;
    }
    Ok(())
}

/// Runs the new model once on a synthetic slice (shader compilation and first allocations), so
/// the user's first slice is not slower than the rest. Slices dropped meanwhile wait in the
/// engine's queue. A failure here is only reported: the slices will say what goes wrong.
/// `?warmup=0` in the page's address skips it (the browser tests do, on the slow software
/// WebGPU adapter).
async fn warm_up(state: AppState) {
    if url_param("warmup").as_deref() == Some("0") {
        state
            .warm_up
            .set(Some("skipped (warmup=0 in the page's address)".into()));
        return;
    }
    state.warm_up.set(Some("running…".into()));
    let outcome = match state.engine() {
        Err(message) => message,
        Ok(engine) => match engine.request(Request::WarmUp).await {
            Ok(Reply::WarmedUp { ms }) => format!("done in {ms:.0} ms"),
            Ok(Reply::AnalysisFailed(message)) | Err(message) => format!("failed: {message}"),
            Ok(other) => format!("unexpected answer from the engine: {other:?}"),
        },
    };
    state.warm_up.set(Some(outcome));
}
