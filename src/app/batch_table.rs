//! The batch table: one row per file, sortable by column, click a row to select it.

use leptos::prelude::*;

use super::state::{AppState, Row, RowStatus, SortColumn, class_label};
use crate::batch::{labelled_split, sort_rows, studies};
use crate::study::locate;

/// Columns: heading and sort key (`None` for unsortable).
const COLUMNS: [(&str, Option<SortColumn>); 10] = [
    ("#", Some(SortColumn::Arrival)),
    ("File", Some(SortColumn::File)),
    ("Study / slice", Some(SortColumn::Study)),
    ("Class", Some(SortColumn::Class)),
    ("P normal / pneu. / COVID", Some(SortColumn::Covid)),
    ("GGO %", Some(SortColumn::Ggo)),
    ("Cons. %", Some(SortColumn::Consolidation)),
    ("Time", Some(SortColumn::Time)),
    ("Label", None),
    ("Split", None),
];

/// The words of the label choices, by class index.
const LABEL_WORDS: [&str; 3] = ["normal", "pneumonia", "COVID-19"];

/// All files of the batch and their results.
#[component]
pub fn BatchTable() -> impl IntoView {
    let state = expect_context::<AppState>();
    let sorted_rows = move || {
        let (column, ascending) = state.sort.get();
        let mut rows = state.rows.get();
        let split = labelled_split(&rows, state.finetune.seed.get());
        let studies = studies(&rows);
        sort_rows(&mut rows, column, ascending);
        rows.into_iter()
            .map(|row| {
                let validation = split.iter().find(|l| l.id == row.id).map(|l| l.validation);
                let place = locate(&studies, row.id)
                    .map(|(study, index, count)| (study.label.clone(), index, count));
                (row, validation, place)
            })
            .collect::<Vec<_>>()
    };

    view! {
        <section class="panel batch" aria-labelledby="batch-title">
            <h2 id="batch-title">"Results"</h2>
            <div class="table-scroll">
                <table data-testid="batch-table">
                    <thead>
                        <tr>
                            {COLUMNS
                                .into_iter()
                                .map(|(title, key)| view! { <SortHeader title key/> })
                                .collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            sorted_rows()
                                .into_iter()
                                .map(|(row, validation, place)| {
                                    view! { <BatchRow row validation place/> }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
            <Show when=move || state.rows.with(Vec::is_empty)>
                <p class="hint">"Results appear here, one row per file."</p>
            </Show>
        </section>
    }
}

/// A column heading that sorts the table when clicked (again: reverses the order).
#[component]
fn SortHeader(title: &'static str, key: Option<SortColumn>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let aria_sort = move || match (key, state.sort.get()) {
        (Some(k), (current, true)) if k == current => "ascending",
        (Some(k), (current, false)) if k == current => "descending",
        _ => "none",
    };
    let on_click = move |_| {
        if let Some(k) = key {
            state.sort.update(|(current, ascending)| {
                if *current == k {
                    *ascending = !*ascending;
                } else {
                    *current = k;
                    *ascending = true;
                }
            });
        }
    };
    if key.is_none() {
        return view! { <th scope="col">{title}</th> }.into_any();
    }
    view! {
        <th scope="col" aria-sort=aria_sort>
            <button type="button" class="sort" title=sort_hint(key) on:click=on_click>
                {title}
            </button>
        </th>
    }
    .into_any()
}

/// The row's class for fine-tuning and evaluation.
#[component]
fn LabelCell(id: usize, label: Option<u8>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev)
            .parse::<u8>()
            .ok()
            .filter(|c| *c < 3);
        state.update_row(id, |row| row.label = value);
    };
    view! {
        <td>
            <select
                data-testid="row-label"
                aria-label="true class of this slice"
                on:click=|ev| ev.stop_propagation()
                on:change=on_change
            >
                <option value="" selected=label.is_none()>"–"</option>
                {(0..3u8)
                    .map(|c| {
                        view! {
                            <option value=c.to_string() selected=label == Some(c)>
                                {LABEL_WORDS[c as usize]}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </td>
    }
}

/// Whether a labelled row trains or validates; a click moves it to the other side.
#[component]
fn SplitCell(id: usize, validation: Option<bool>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let Some(validation) = validation else {
        return view! { <td></td> }.into_any();
    };
    let toggle = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        state.update_row(id, |row| row.split_override = Some(!validation));
    };
    view! {
        <td>
            <button
                type="button"
                class="split"
                data-testid="row-split"
                title="Click to move this slice to the other split"
                on:click=toggle
            >
                {if validation { "validation" } else { "train" }}
            </button>
        </td>
    }
    .into_any()
}

/// The row's study (label, shortened) and its place in it, head first.
#[component]
fn StudyCell(place: Option<(String, usize, usize)>) -> impl IntoView {
    let Some((label, index, count)) = place else {
        return view! { <td data-testid="row-study"></td> }.into_any();
    };
    let short: String = if label.chars().count() > 24 {
        label.chars().take(23).chain(['…']).collect()
    } else {
        label.clone()
    };
    view! {
        <td data-testid="row-study" title=format!("{label}: slice {index} of {count}, head first")>
            <span class="study-label">{short}</span>
            " "
            <span class="numeric" data-testid="row-slice">{format!("{index}/{count}")}</span>
        </td>
    }
    .into_any()
}

/// One file's row.
#[component]
fn BatchRow(
    row: Row,
    validation: Option<bool>,
    place: Option<(String, usize, usize)>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = row.id;
    let is_selected = move || state.selected.get() == Some(id);
    let select = move || state.selected.set(Some(id));

    let cells = match (&row.status, &row.result) {
        (RowStatus::Done, Some(result)) => {
            let report = &result.analysis.report;
            let p = report.prediction.class_probabilities;
            let (ggo, consolidation) = match report.lesion_area_percent {
                Some(a) => (format!("{:.2}", a.ggo), format!("{:.2}", a.consolidation)),
                None => ("–".into(), "–".into()),
            };
            view! {
                <td data-testid="predicted-class" class=report.prediction.predicted_class>
                    {class_label(report.prediction.predicted_class)}
                </td>
                <td data-testid="probabilities" class="numeric">
                    {format!("{:.3} / {:.3} / {:.3}", p.normal, p.pneumonia, p.covid)}
                </td>
                <td class="numeric">{ggo}</td>
                <td class="numeric">{consolidation}</td>
                <td class="numeric" data-testid="row-time">
                    {format!("{:.2} s", result.total_ms / 1e3)}
                </td>
            }
            .into_any()
        }
        (RowStatus::Failed(message), _) => view! {
            <td colspan="5" class="error" data-testid="row-error">
                {message.clone()}
            </td>
        }
        .into_any(),
        (RowStatus::Running, _) => {
            // The engine answers in order: a warm-up still running delays this slice.
            let text = move || match state.warm_up.get() {
                Some(w) if w.starts_with("running") => "waiting for the model's warm-up…",
                _ => "analysing…",
            };
            view! { <td colspan="5" class="status" data-testid="row-status">{text}</td> }.into_any()
        }
        _ => view! { <td colspan="5" class="status" data-testid="row-status">"queued"</td> }
            .into_any(),
    };

    view! {
        <tr
            data-testid="batch-row"
            data-status=status_key(&row.status)
            class:selected=is_selected
            aria-selected=move || is_selected().to_string()
            tabindex="0"
            on:click=move |_| select()
            on:keydown=move |ev| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    select();
                }
            }
        >
            <td class="numeric">{row.id + 1}</td>
            <td class="file-name" title=row_title(&row)>
                {row.name.clone()}
                {notes(&row)
                    .map(|text| {
                        let title = text.clone();
                        view! {
                            <span class="row-note" data-testid="row-note" title=title>
                                " ⚠ "
                                <span class="visually-hidden">{text}</span>
                            </span>
                        }
                    })}
            </td>
            <StudyCell place/>
            {cells}
            <LabelCell id label=row.label/>
            <SplitCell id validation/>
        </tr>
    }
}

/// What the analysis noted about the file (e.g. a very large image scaled down), if anything.
fn notes(row: &Row) -> Option<String> {
    let notes = &row.result.as_ref()?.analysis.report.notes;
    (!notes.is_empty()).then(|| notes.join(" "))
}

/// The file name's tooltip: the full name and the weights that analysed it.
fn row_title(row: &Row) -> String {
    match &row.weights {
        Some(weights) => format!("{} (analysed with {weights})", row.name),
        None => row.name.clone(),
    }
}

fn sort_hint(key: Option<SortColumn>) -> &'static str {
    match key {
        Some(SortColumn::Covid) => {
            "Probabilities of normal, common pneumonia and COVID-19; sorts by COVID-19"
        }
        Some(SortColumn::Consolidation) => "Consolidation area, % of the slice",
        Some(SortColumn::Ggo) => "Ground-glass opacity area, % of the slice",
        Some(SortColumn::Study) => {
            "The study (DICOM series, or patient and scan from the file name) and the slice's \
             place in it, head first; sorts by study, then slice"
        }
        _ => "Sort by this column",
    }
}

fn status_key(status: &RowStatus) -> &'static str {
    match status {
        RowStatus::Queued => "queued",
        RowStatus::Running => "running",
        RowStatus::Done => "done",
        RowStatus::Failed(_) => "error",
    }
}
