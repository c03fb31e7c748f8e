//! The page header: product name, backend in use and the state of the weights.

use leptos::prelude::*;

use super::state::{AppState, BACKEND_LABEL, ModelStatus};

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
        ModelStatus::Ready(_) => "ready",
        ModelStatus::Failed(_) => "failed",
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
                <dd data-testid="backend">{BACKEND_LABEL}</dd>
                <dt>"Weights"</dt>
                <dd data-testid="weights-status" data-state=status_state aria-live="polite">
                    {status_text}
                </dd>
            </dl>
        </header>
    }
}
