//! Choosing slices: a drop zone, a file input, and the batch's progress.

use leptos::prelude::*;
use web_sys::{DragEvent, HtmlInputElement};

use super::browser::files_of;
use super::folders::{self, Dropped};
use super::queue::enqueue;
use super::state::{AppState, RowStatus};
use crate::batch::is_slice_name;

/// Drop zone, file input and progress indicator.
#[component]
pub fn InputPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let dragging = RwSignal::new(false);
    // Files of the last folder that were not slices (skipped), for a notice.
    let skipped = RwSignal::new(0usize);

    let on_change = move |ev: leptos::ev::Event| {
        let input = event_target::<HtmlInputElement>(&ev);
        let files = files_of(input.files());
        input.set_value("");
        skipped.set(0);
        enqueue(state, files);
    };
    // A folder picked with the folder button: every file under it, slices only.
    let on_folder = move |ev: leptos::ev::Event| {
        let input = event_target::<HtmlInputElement>(&ev);
        let (files, others): (Vec<_>, Vec<_>) =
            files_of(input.files()).into_iter().partition(|f| is_slice_name(&f.name()));
        input.set_value("");
        skipped.set(others.len());
        enqueue(state, files);
    };
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        let Some(data) = ev.data_transfer() else {
            return;
        };
        match folders::take(&data) {
            Dropped::Files(files) => {
                skipped.set(0);
                enqueue(state, files);
            }
            Dropped::Entries(entries) => leptos::task::spawn_local(async move {
                let (files, others) = folders::files_in(entries).await;
                skipped.set(others);
                enqueue(state, files);
            }),
        }
    };

    view! {
        <section class="panel input" aria-labelledby="input-title">
            <h2 id="input-title">"Slices"</h2>
            <label
                class="drop-zone"
                class:dragging=move || dragging.get()
                on:dragover=move |ev: DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop
            >
                <span>"Drop CT slices or folders here (PNG, JPEG or DICOM), or "</span>
                <span class="button-like">"choose files…"</span>
                <input
                    type="file"
                    class="visually-hidden"
                    data-testid="file-input"
                    accept="image/png,image/jpeg,application/dicom,.png,.jpg,.jpeg,.dcm,.dicom"
                    multiple
                    on:change=on_change
                />
            </label>
            <label class="hint">
                <span class="button-like">"Choose a folder…"</span>
                " (a patient's DICOM series: slices are grouped per study, head first)"
                <input
                    type="file"
                    class="visually-hidden"
                    data-testid="folder-input"
                    prop:webkitdirectory=true
                    multiple
                    on:change=on_folder
                />
            </label>
            {move || {
                let n = skipped.get();
                (n > 0)
                    .then(|| {
                        view! {
                            <p class="hint" data-testid="skipped-files">
                                {format!(
                                    "{n} file{} in the folder {} not a slice (not PNG, JPEG or \
                                     DICOM by name) and {} skipped.",
                                    if n == 1 { "" } else { "s" },
                                    if n == 1 { "is" } else { "are" },
                                    if n == 1 { "was" } else { "were" },
                                )}
                            </p>
                        }
                    })
            }}
            <label class="hint">
                "DICOM window: "
                <select
                    data-testid="dicom-window"
                    prop:value=move || state.dicom_window.get()
                    on:change=move |ev| state.dicom_window.set(event_target_value(&ev))
                >
                    <option value="lung">"Lung (level -600, width 1500; the paper's data)"</option>
                    <option value="mediastinum">"Mediastinum (40, 350)"</option>
                    <option value="file">"The file's own (else lung)"</option>
                </select>
                " (for files analysed from now on)"
            </label>
            <Progress/>
        </section>
    }
}

/// "n of m" slices processed, with a progress bar.
#[component]
fn Progress() -> impl IntoView {
    let state = expect_context::<AppState>();
    let counts = move || {
        state.rows.with(|rows| {
            let finished = rows
                .iter()
                .filter(|r| matches!(r.status, RowStatus::Done | RowStatus::Failed(_)))
                .count();
            let failed = rows
                .iter()
                .filter(|r| matches!(r.status, RowStatus::Failed(_)))
                .count();
            (finished, rows.len(), failed)
        })
    };
    let text = move || {
        let (finished, total, failed) = counts();
        let failed = match failed {
            0 => String::new(),
            1 => " (1 could not be analysed)".to_string(),
            n => format!(" ({n} could not be analysed)"),
        };
        if total == 0 {
            "No slices yet.".to_string()
        } else if state.running.get() {
            format!("Analysing: {finished} of {total} done{failed}")
        } else {
            format!("{finished} of {total} done{failed}")
        }
    };

    view! {
        <div class="progress">
            <progress
                max=move || counts().1.max(1)
                value=move || counts().0
                aria-label="Slices analysed"
            ></progress>
            <span data-testid="progress" aria-live="polite">
                {text}
            </span>
        </div>
    }
}
