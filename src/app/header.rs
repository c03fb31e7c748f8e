//! The page header: product name, backend in use and the state of the weights.

use leptos::prelude::*;
use wasm_bindgen::JsValue;

use super::state::{AppState, ModelStatus};

/// Window event that `www/loader.js` fires when the offline cache changes state.
const OFFLINE_EVENT: &str = "ct-mask-net-offline";

/// `window.ctMaskNetOffline`, set by `www/loader.js`: `preparing`, `ready` or
/// `unavailable: <why>`.
fn offline_state() -> String {
    js_sys::Reflect::get(&window(), &JsValue::from_str("ctMaskNetOffline"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "preparing".into())
}

/// Plain words for [`offline_state`].
fn offline_text(state: &str) -> String {
    match state {
        "ready" => "ready: works without a network".into(),
        "preparing" => "saving the app for offline use…".into(),
        other => format!(
            "not available ({})",
            other.trim_start_matches("unavailable: ")
        ),
    }
}

/// Product name, backend indicator and weights status.
#[component]
pub fn Header() -> impl IntoView {
    let state = expect_context::<AppState>();
    let status_text = move || match state.model.get() {
        ModelStatus::Busy(text) => text,
        ModelStatus::Ready(info) if info.placeholder => "Placeholder model (not trained)".into(),
        ModelStatus::Ready(info) => format!("Model ready: {}", info.label),
        ModelStatus::Failed(message) => format!("No model: {message}"),
    };
    let status_state = move || match state.model.get() {
        ModelStatus::Busy(_) => "busy",
        ModelStatus::Ready(info) if info.placeholder => "placeholder",
        ModelStatus::Ready(info) if info.default => "default",
        ModelStatus::Ready(_) => "ready",
        ModelStatus::Failed(_) => "failed",
    };

    let offline = RwSignal::new(offline_state());
    // The header lives as long as the page, so the listener is never removed.
    let _listener =
        window_event_listener_untyped(OFFLINE_EVENT, move |_| offline.set(offline_state()));
    let offline_key = move || {
        let state = offline.get();
        state.split(':').next().unwrap_or_default().to_string()
    };

    view! {
        <header class="page-header">
            <h1>"CT-Mask-Net Web"</h1>
            <p class="tagline">
                "COVID-19 classification and lesion segmentation of chest CT slices, \
                 entirely in your browser. Not a diagnostic device."
            </p>
            <dl class="header-facts">
                <dt>"Backend"</dt>
                <dd>
                    <span data-testid="backend">{move || state.backend.get()}</span>
                    " "
                    <span class="hint" data-testid="warm-up" aria-live="polite">
                        {move || match state.warm_up.get() {
                            Some(text) if text.starts_with("running") => {
                                "(warming up the model…)".to_string()
                            }
                            Some(text) if text.starts_with("failed") => {
                                format!("(warm-up {text})")
                            }
                            _ => String::new(),
                        }}
                    </span>
                </dd>
                <dt>"Weights"</dt>
                <dd data-testid="weights-status" data-state=status_state aria-live="polite">
                    {status_text}
                </dd>
                <dt>"Offline"</dt>
                <dd data-testid="offline-status" data-state=offline_key aria-live="polite">
                    {move || offline_text(&offline.get())}
                </dd>
            </dl>
        </header>
    }
}
