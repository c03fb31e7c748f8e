//! The batch queue: every file becomes a row at once, then files are decoded and analysed one
//! at a time, yielding to the browser between steps so the page repaints.

use std::sync::Arc;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use web_time::Instant;

use super::browser::{read_bytes, yield_to_browser};
use super::state::{AppState, Row, RowStatus, SliceResult};
use crate::analysis::Analyzer;
use crate::imaging::decode_slice;

/// Adds files to the batch and starts working through the queue if it is idle.
pub fn enqueue(state: AppState, files: Vec<web_sys::File>) {
    for file in files {
        let id = state.next_id.get_value();
        state.next_id.set_value(id + 1);
        state.rows.update(|rows| {
            rows.push(Row {
                id,
                name: file.name(),
                status: RowStatus::Queued,
                result: None,
                weights: None,
            })
        });
        state.queue.update_value(|q| q.push_back((id, file)));
    }
    if !state.running.get_untracked() {
        state.running.set(true);
        leptos::task::spawn_local(work_through(state));
    }
}

async fn work_through(state: AppState) {
    loop {
        yield_to_browser().await;
        let Some((id, file)) = state.queue.try_update_value(|q| q.pop_front()).flatten() else {
            break;
        };
        // Wait for a model (the placeholder is built at start-up).
        let model = loop {
            if let Some(model) = state.active.get_value() {
                break model;
            }
            TimeoutFuture::new(100).await;
        };
        state.update_row(id, |row| row.status = RowStatus::Running);
        yield_to_browser().await;

        match analyse_file(&model.analyzer, &file).await {
            Ok(result) => {
                let first_result = state
                    .rows
                    .with_untracked(|rows| rows.iter().all(|r| r.result.is_none()));
                state.update_row(id, |row| {
                    row.status = RowStatus::Done;
                    row.result = Some(Arc::new(result));
                    row.weights = Some(model.info.label.clone());
                });
                if first_result || state.selected.get_untracked().is_none() {
                    state.selected.set(Some(id));
                }
            }
            Err(message) => state.update_row(id, |row| row.status = RowStatus::Failed(message)),
        }
    }
    state.running.set(false);
}

/// Reads, decodes and analyses one file. Errors are plain-words messages for its row.
async fn analyse_file(analyzer: &Analyzer, file: &web_sys::File) -> Result<SliceResult, String> {
    let started = Instant::now();
    let bytes = read_bytes(file).await?;
    let image = decode_slice(&bytes).map_err(|e| capitalise(&e.to_string()))?;
    drop(bytes);
    let decode_ms = started.elapsed().as_secs_f64() * 1e3;
    yield_to_browser().await;

    let mut analysis = analyzer
        .analyze(&image)
        .await
        .map_err(|e| capitalise(&e.to_string()))?;
    analysis.report.timings_ms.decode_ms = decode_ms;
    Ok(SliceResult {
        image,
        analysis,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
