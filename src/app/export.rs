//! Exporting the batch as CSV or JSON, saved through Blob URLs: nothing leaves the machine.

use leptos::prelude::*;

use super::browser::save_file;
use super::state::AppState;
use crate::batch::{to_csv, to_json};

/// The two export buttons.
#[component]
pub fn ExportPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    let empty = move || state.rows.with(Vec::is_empty);
    let export = move |text: String, mime: &str, name: &str| {
        message.set(save_file(text.as_bytes(), mime, name).err());
    };

    view! {
        <section class="panel export" aria-labelledby="export-title">
            <h2 id="export-title">"Export"</h2>
            <div class="row-of-controls">
                <button
                    type="button"
                    data-testid="export-csv"
                    prop:disabled=empty
                    on:click=move |_| {
                        export(state.rows.with(|r| to_csv(r)), "text/csv", "ct-mask-net-batch.csv")
                    }
                >
                    "Export CSV"
                </button>
                <button
                    type="button"
                    data-testid="export-json"
                    prop:disabled=empty
                    on:click=move |_| {
                        export(
                            state.rows.with(|r| to_json(r)),
                            "application/json",
                            "ct-mask-net-batch.json",
                        )
                    }
                >
                    "Export JSON"
                </button>
            </div>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </section>
    }
}
