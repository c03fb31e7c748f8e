//! Exporting the batch as CSV or JSON, in the table's order, saved through Blob URLs: nothing
//! leaves the machine.

use leptos::prelude::*;

use super::browser::save_file;
use super::state::AppState;
use crate::batch::{Row, sort_rows, studies_json, to_csv, to_json};

/// The two export buttons.
#[component]
pub fn ExportPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    let empty = move || state.rows.with(Vec::is_empty);
    // The rows in the table's current order.
    let sorted = move || -> Vec<Row> {
        let (column, ascending) = state.sort.get_untracked();
        let mut rows = state.rows.get_untracked();
        sort_rows(&mut rows, column, ascending);
        rows
    };
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
                        export(to_csv(&sorted()), "text/csv", "ct-mask-net-batch.csv")
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
                            to_json(&sorted()),
                            "application/json",
                            "ct-mask-net-batch.json",
                        )
                    }
                >
                    "Export JSON"
                </button>
                <button
                    type="button"
                    data-testid="export-studies"
                    title="One record per study: its files head first and the roll-up of their answers"
                    prop:disabled=move || state.rows.with(|rows| rows.iter().all(|r| r.place.is_none()))
                    on:click=move |_| {
                        export(
                            studies_json(&state.rows.get_untracked()),
                            "application/json",
                            "ct-mask-net-studies.json",
                        )
                    }
                >
                    "Export studies (JSON)"
                </button>
            </div>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </section>
    }
}
