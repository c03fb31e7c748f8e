//! The selected slice: overlay canvas, its controls and the PNG download.

use leptos::prelude::*;

use super::browser::save_file;
use super::overlay::{Look, css_colour, encode_png, overlay_image, paint};
use super::state::{AppState, ModelStatus, RowStatus, class_label};
use crate::imaging::{CONSOLIDATION_COLOUR, GGO_COLOUR};

/// The selected slice with its lesion overlay.
#[component]
pub fn SliceView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let settings = state.overlay;
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let message = RwSignal::new(None::<String>);
    let look = move || Look {
        opacity: settings.opacity.get(),
        ggo: settings.show_ggo.get(),
        consolidation: settings.show_consolidation.get(),
        min_score: settings.min_score.get(),
    };

    // A new model brings its own lesion threshold (the default weights' is below 0.5).
    Effect::new(move |_| {
        if let ModelStatus::Ready(info) = state.model.get() {
            settings.min_score.set(info.min_score);
        }
    });

    // Redraw whenever the selection, its result or a control changes.
    Effect::new(move |_| {
        let look = look();
        let Some(canvas) = canvas.get() else {
            return;
        };
        match state.selected_result() {
            Some((name, result)) => {
                let image = overlay_image(&result, look);
                match paint(&canvas, &image) {
                    Ok(()) => {
                        let _ = canvas.set_attribute("data-drawn", &name);
                    }
                    Err(e) => log::error!("overlay: {e:?}"),
                }
            }
            None => {
                canvas.set_width(0);
                canvas.set_height(0);
                let _ = canvas.remove_attribute("data-drawn");
            }
        }
    });

    let caption = move || match state.selected_result() {
        // A selected row without a result: say why.
        None => state
            .selected
            .get()
            .and_then(|id| {
                state.rows.with(|rows| {
                    rows.iter().find(|r| r.id == id).map(|r| match &r.status {
                        RowStatus::Failed(message) => {
                            format!("{}: could not be analysed. {message}", r.name)
                        }
                        _ => format!("{}: not analysed yet.", r.name),
                    })
                })
            })
            .unwrap_or_else(|| "Select an analysed row to see its slice.".to_string()),
        Some((name, result)) => {
            let report = &result.analysis.report;
            let lesions = match &report.detections {
                Some(d) => format!("{} lesion box(es) found", d.len()),
                None => "no segmentation model, so no lesions".to_string(),
            };
            format!(
                "{name}: {} ({}x{} pixels), {lesions}.",
                class_label(report.prediction.predicted_class),
                report.image_size[0],
                report.image_size[1]
            )
        }
    };
    let download = move |_| {
        let Some((name, result)) = state.selected_result() else {
            return;
        };
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let outcome = encode_png(&overlay_image(&result, look()))
            .and_then(|png| save_file(&png, "image/png", &format!("{stem}.overlay.png")));
        message.set(outcome.err());
    };
    let nothing_selected = move || state.selected_result().is_none();

    view! {
        <section class="panel slice" aria-labelledby="slice-title">
            <h2 id="slice-title">"Selected slice"</h2>
            <p class="caption" data-testid="slice-caption">{caption}</p>
            <div class="canvas-frame">
                <canvas data-testid="overlay" node_ref=canvas width="0" height="0"></canvas>
            </div>
            <OverlayControls/>
            <div class="row-of-controls">
                <button
                    type="button"
                    data-testid="download-overlay"
                    prop:disabled=nothing_selected
                    on:click=download
                >
                    "Download overlay PNG"
                </button>
            </div>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </section>
    }
}

/// Opacity, class toggles and the box score threshold.
#[component]
fn OverlayControls() -> impl IntoView {
    let settings = expect_context::<AppState>().overlay;
    let number = |ev: &leptos::ev::Event| event_target_value(ev).parse::<f32>().ok();

    view! {
        <div class="overlay-controls">
            <label>
                "Opacity "
                <input
                    type="range"
                    min="0"
                    max="1"
                    step="0.05"
                    data-testid="opacity"
                    prop:value=move || settings.opacity.get().to_string()
                    on:input=move |ev| {
                        if let Some(v) = number(&ev) {
                            settings.opacity.set(v);
                        }
                    }
                />
            </label>
            <label>
                <input
                    type="checkbox"
                    data-testid="toggle-ggo"
                    prop:checked=move || settings.show_ggo.get()
                    on:change=move |ev| settings.show_ggo.set(event_target_checked(&ev))
                />
                <span class="swatch" style:background-color=css_colour(GGO_COLOUR)></span>
                " Ground-glass opacity"
            </label>
            <label>
                <input
                    type="checkbox"
                    data-testid="toggle-consolidation"
                    prop:checked=move || settings.show_consolidation.get()
                    on:change=move |ev| settings.show_consolidation.set(event_target_checked(&ev))
                />
                <span
                    class="swatch"
                    style:background-color=css_colour(CONSOLIDATION_COLOUR)
                ></span>
                " Consolidation"
            </label>
            <label>
                "Min. box score "
                <input
                    type="range"
                    min="0"
                    max="1"
                    step="0.05"
                    data-testid="min-score"
                    prop:value=move || settings.min_score.get().to_string()
                    on:input=move |ev| {
                        if let Some(v) = number(&ev) {
                            settings.min_score.set(v);
                        }
                    }
                />
                <output>{move || format!("{:.2}", settings.min_score.get())}</output>
            </label>
            <p class="hint">
                "The score slider shows or hides boxes; masks always show the lesions scoring \
                 at least 0.50."
            </p>
        </div>
    }
}
