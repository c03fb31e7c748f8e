//! Diagnostics a user can paste into a bug report: backend, weights, per-stage timings.

use leptos::prelude::*;

use crate::engine::{Reply, Request};

use super::browser::copy_to_clipboard;
use super::client::BackendChoice;
use super::state::{AppState, ModelStatus, Row, RowStatus};

/// The diagnostics text and its copy button.
#[component]
pub fn Diagnostics() -> impl IntoView {
    let state = expect_context::<AppState>();
    let text_area = NodeRef::<leptos::html::Textarea>::new();
    let copied = RwSignal::new(None::<&'static str>);
    let text = move || {
        let model = match state.model.get() {
            ModelStatus::Ready(info) => info.label,
            ModelStatus::Busy(text) => text,
            ModelStatus::Failed(message) => format!("none ({message})"),
        };
        let backend = Backend {
            name: state.backend.get(),
            detail: state.backend_detail.get(),
            warm_up: state.warm_up.get(),
        };
        state.rows.with(|rows| describe(&backend, &model, rows))
    };
    // On WebGPU the button offers the CPU; on the CPU it offers WebGPU, unless WebGPU was
    // already asked for and is not available (the diagnostics say why).
    let on_gpu = move || state.backend.get().starts_with("WebGPU");
    let switch_to = move || {
        if on_gpu() {
            BackendChoice::Cpu
        } else {
            BackendChoice::Auto
        }
    };
    let unavailable = move || !on_gpu() && state.backend_choice.get() == BackendChoice::Auto;
    let switch_label = move || {
        if on_gpu() {
            "Use the CPU backend"
        } else if unavailable() {
            "WebGPU is not available in this browser"
        } else {
            "Use WebGPU when available"
        }
    };
    let switch = move |_| {
        // Decided before the indicator changes (it decides `switch_to`).
        let target = switch_to();
        if let Ok(engine) = state.engine() {
            state.backend.set("restarting…".into());
            engine.switch_backend(target);
        }
    };

    let timing = RwSignal::new(None::<String>);
    let time_fine_tuning = move |_| {
        timing.set(Some("timing 3 epochs on 300 synthetic slices…".into()));
        leptos::task::spawn_local(async move {
            let reply = state
                .request(Request::FineTuneBenchmark { slices: 300 })
                .await;
            timing.set(Some(match reply {
                Ok(Reply::FineTuneTimed {
                    slices,
                    ms_per_epoch,
                }) => format!(
                    "fine-tuning (heads mode), {slices} slices: {:.2} s per epoch on {}",
                    ms_per_epoch / 1e3,
                    state.backend.get_untracked()
                ),
                Ok(Reply::FineTuneFailed(message)) | Err(message) => format!("failed: {message}"),
                Ok(other) => format!("unexpected answer from the engine: {other:?}"),
            }));
        });
    };

    let copy = move |_| {
        let text = text();
        leptos::task::spawn_local(async move {
            if copy_to_clipboard(&text).await {
                copied.set(Some("Copied to the clipboard."));
            } else if let Some(area) = text_area.get_untracked() {
                area.select();
                copied.set(Some(
                    "The clipboard is not available: the text is selected; copy it with \
                     Ctrl+C.",
                ));
            }
        });
    };

    view! {
        <section class="panel diagnostics" data-testid="diagnostics" aria-labelledby="diag-title">
            <h2 id="diag-title">"Diagnostics"</h2>
            <textarea
                node_ref=text_area
                readonly
                rows="11"
                aria-label="Diagnostics text"
                data-testid="diagnostics-text"
                prop:value=text
            ></textarea>
            <div class="row-of-controls">
                <button type="button" data-testid="copy-diagnostics" on:click=copy>
                    "Copy diagnostics"
                </button>
                <span aria-live="polite">{move || copied.get()}</span>
            </div>
            <div class="row-of-controls">
                <button
                    type="button"
                    data-testid="backend-switch"
                    prop:disabled=unavailable
                    on:click=switch
                >
                    {switch_label}
                </button>
                <span class="hint">
                    "Restarts the engine and reloads the model; slices being analysed start \
                     again. The choice is remembered (?backend=cpu or ?backend=auto in the \
                     page's address overrides it)."
                </span>
            </div>
            <div class="row-of-controls">
                <button type="button" data-testid="time-finetune" on:click=time_fine_tuning>
                    "Time fine-tuning on this device"
                </button>
                <span aria-live="polite" data-testid="finetune-timing">{move || timing.get()}</span>
            </div>
        </section>
    }
}

/// What the diagnostics say about the backend.
struct Backend {
    name: String,
    detail: String,
    warm_up: Option<String>,
}

/// The diagnostics as plain text.
fn describe(backend: &Backend, model: &str, rows: &[Row]) -> String {
    let navigator = window().navigator();
    let mut lines = vec![
        format!("ct-mask-net {}", env!("CARGO_PKG_VERSION")),
        format!("backend: {}", backend.name),
    ];
    lines.extend(backend.detail.lines().map(|line| format!("  {line}")));
    lines.extend([
        format!(
            "warm-up: {}",
            backend.warm_up.as_deref().unwrap_or("not run yet")
        ),
        format!("weights: {model}"),
        format!(
            "browser: {} ({} logical cores)",
            navigator.user_agent().unwrap_or_default(),
            navigator.hardware_concurrency()
        ),
    ]);
    let failed = rows
        .iter()
        .filter(|r| matches!(r.status, RowStatus::Failed(_)))
        .count();
    lines.push(format!("batch: {} file(s), {failed} failed", rows.len()));
    let last = rows
        .iter()
        .filter_map(|r| r.result.as_ref().map(|res| (r, res)))
        .max_by_key(|(r, _)| r.id);
    match last {
        None => lines.push("last slice: none analysed yet".into()),
        Some((row, result)) => {
            let t = &result.analysis.report.timings_ms;
            lines.push(format!(
                "last slice: {} ({:.0} ms in all; {})",
                row.name,
                result.total_ms,
                if result.analysis.report.shared_detector_pass {
                    "one detector pass served both models"
                } else {
                    "each model ran its own detector pass"
                }
            ));
            lines.push(format!(
                "  decode {:.0} ms, preprocess {:.0} ms, backbone+FPN {:.0} ms, RPN {:.0} ms",
                t.decode_ms, t.preprocess_ms, t.backbone_fpn_ms, t.rpn_ms
            ));
            lines.push(format!(
                "  RoI heads {:.0} ms, masks {:.0} ms, module S {:.0} ms",
                t.roi_heads_ms, t.masks_ms, t.classifier_ms
            ));
        }
    }
    lines.join("\n")
}
