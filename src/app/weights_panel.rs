//! The weights panel: what the weights in use are (with the placeholder's and the default
//! weights' warnings), loading the user's checkpoints, and going back to the default weights or
//! the placeholder.

use leptos::prelude::*;
use web_sys::HtmlInputElement;

use super::browser::files_of;
use super::state::{AppState, ModelStatus};
use super::weights::{
    DEFAULT_NOTE, PLACEHOLDER_NOTE, load_user_weights, use_default, use_placeholder,
};

/// Checkpoint loading and the plain statement of which weights are in use.
#[component]
pub fn WeightsPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let is_placeholder =
        move || matches!(state.model.get(), ModelStatus::Ready(info) if info.placeholder);
    let is_default = move || matches!(state.model.get(), ModelStatus::Ready(info) if info.default);
    let busy = move || matches!(state.model.get(), ModelStatus::Busy(_));
    let in_use = move || match state.model.get() {
        ModelStatus::Ready(info) => format!("In use: {}.", info.label),
        ModelStatus::Busy(text) => text,
        ModelStatus::Failed(message) => format!("No model could be built: {message}"),
    };

    let on_change = move |ev: leptos::ev::Event| {
        let input = event_target::<HtmlInputElement>(&ev);
        let files = files_of(input.files());
        // Clear the input so that choosing the same file again still counts as a change.
        input.set_value("");
        load_user_weights(state, files);
    };

    view! {
        <section class="panel weights" aria-labelledby="weights-title">
            <h2 id="weights-title">"Weights"</h2>
            <Show when=is_placeholder>
                <p class="warning" data-testid="placeholder-note">{PLACEHOLDER_NOTE}</p>
            </Show>
            <Show when=is_default>
                <p class="warning" data-testid="default-note">{DEFAULT_NOTE}</p>
            </Show>
            <p data-testid="weights-in-use">{in_use}</p>
            {move || {
                state.download.get().map(|(done, total)| {
                    let mb = |b: u64| b as f64 / 1e6;
                    let text = match total {
                        Some(t) => format!("Downloading: {:.1} of {:.1} MB", mb(done), mb(t)),
                        None => format!("Downloading: {:.1} MB", mb(done)),
                    };
                    view! {
                        <div class="progress" data-testid="weights-download">
                            <progress
                                max=total.unwrap_or(0).max(1).to_string()
                                value=done.to_string()
                                aria-label="Default weights downloaded"
                            ></progress>
                            <span>{text}</span>
                        </div>
                    }
                })
            }}
            {move || {
                let ready_user =
                    matches!(state.model.get(), ModelStatus::Ready(info) if !info.placeholder);
                let (key, text) = match state.weights_saved.get() {
                    Some(Ok(())) => (
                        "saved",
                        "Saved in this browser: the next visit starts with these weights, also \
                         offline. \"Back to the placeholder\" forgets them."
                            .to_string(),
                    ),
                    Some(Err(message)) => (
                        "not-saved",
                        format!(
                            "Not saved for the next visit: {message}. They stay active until \
                             the page is closed."
                        ),
                    ),
                    None => return None,
                };
                ready_user.then(|| view! {
                    <p class="hint" data-testid="weights-saved" data-state=key>{text}</p>
                })
            }}
            <div class="row-of-controls">
                <label class="button-like">
                    "Load checkpoints (.pth, .safetensors)…"
                    <input
                        type="file"
                        class="visually-hidden"
                        data-testid="weights-input"
                        accept=".pth,.safetensors"
                        multiple
                        prop:disabled=busy
                        on:change=on_change
                    />
                </label>
                <button
                    type="button"
                    data-testid="use-default"
                    prop:disabled=move || busy() || is_default()
                    on:click=move |_| use_default(state)
                >
                    "Use the default weights"
                </button>
                <button
                    type="button"
                    data-testid="use-placeholder"
                    prop:disabled=move || busy() || is_placeholder()
                    on:click=move |_| use_placeholder(state)
                >
                    "Back to the placeholder"
                </button>
            </div>
            <p class="hint">
                "The authors' classification_model.pth (COVID-CT-Mask-Net) and \
                 segmentation_model.pth (lesions), or this project's .safetensors files. A \
                 classifier alone works too (then no lesions are shown). Files are read here; \
                 nothing is uploaded."
            </p>
            {move || {
                state
                    .weights_error
                    .get()
                    .map(|message| {
                        view! {
                            <p class="error" role="alert" data-testid="weights-error">
                                {format!(
                                    "Could not use these weights: {}. The previous model stays \
                                     active.",
                                    message.trim_end_matches('.'),
                                )}
                            </p>
                        }
                    })
            }}
        </section>
    }
}
