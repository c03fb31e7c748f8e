//! Exporting the batch as CSV or JSON, saved through Blob URLs: nothing leaves the machine.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::browser::save_file;
use super::state::{AppState, Row, RowStatus};

/// CSV header, matching [`csv_line`].
const CSV_HEADER: &str = "file,predicted_class,p_normal,p_pneumonia,p_covid,ggo_percent,\
                          consolidation_percent,error,weights";

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

/// One record per row: the numbers, or the error (or why there is no result yet).
fn record(row: &Row) -> Value {
    let mut value = json!({ "file": row.name, "weights": row.weights });
    match (&row.status, &row.result) {
        (RowStatus::Done, Some(result)) => {
            let report = &result.analysis.report;
            let p = report.prediction.class_probabilities;
            value["predicted_class"] = json!(report.prediction.predicted_class);
            value["p_normal"] = json!(p.normal);
            value["p_pneumonia"] = json!(p.pneumonia);
            value["p_covid"] = json!(p.covid);
            let areas = report.lesion_area_percent;
            value["ggo_percent"] = json!(areas.map(|a| a.ggo));
            value["consolidation_percent"] = json!(areas.map(|a| a.consolidation));
        }
        (RowStatus::Failed(message), _) => value["error"] = json!(message),
        _ => value["error"] = json!("not analysed yet"),
    }
    value
}

fn to_json(rows: &[Row]) -> String {
    let records: Vec<Value> = rows.iter().map(record).collect();
    serde_json::to_string_pretty(&records).unwrap_or_default()
}

fn to_csv(rows: &[Row]) -> String {
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(&csv_line(&record(row)));
        text.push('\n');
    }
    text
}

fn csv_line(record: &Value) -> String {
    [
        "file",
        "predicted_class",
        "p_normal",
        "p_pneumonia",
        "p_covid",
        "ggo_percent",
        "consolidation_percent",
        "error",
        "weights",
    ]
    .iter()
    .map(|key| match &record[*key] {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => other.to_string(),
    })
    .collect::<Vec<_>>()
    .join(",")
}

/// Quotes a field when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
