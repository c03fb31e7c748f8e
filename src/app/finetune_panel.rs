//! The fine-tuning panel: the labelled set and its split, the settings, progress with loss
//! curves, validation metrics, and the fine-tuned model (use, export); also the active
//! model's metrics on the labelled slices without training.

use leptos::prelude::*;

use super::browser::save_file;
use super::finetune::{self, usable};
use super::state::{AppState, EpochReport, FineTuneStatus};
use crate::batch::label_confusion;
use crate::evaluation::ConfusionMatrix;

const CLASS_WORDS: [&str; 3] = ["normal", "pneumonia", "COVID-19"];

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// Accuracy, per-class sensitivity and precision, and the confusion matrix.
#[component]
fn Metrics(matrix: ConfusionMatrix, caption: String) -> impl IntoView {
    let rows = (0..3)
        .map(|c| {
            view! {
                <tr>
                    <th scope="row">{CLASS_WORDS[c]}</th>
                    <td class="numeric">{pct(matrix.sensitivity(c))}</td>
                    <td class="numeric">{pct(matrix.precision(c))}</td>
                    {matrix.counts[c]
                        .iter()
                        .map(|n| view! { <td class="numeric">{*n}</td> })
                        .collect_view()}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="metrics" data-testid="metrics">
            <p>
                {caption} ": accuracy "
                <strong data-testid="metrics-accuracy">{pct(matrix.accuracy())}</strong>
                {format!(" on {} slices", matrix.total())}
            </p>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"true class"</th>
                        <th scope="col">"sensitivity"</th>
                        <th scope="col">"precision"</th>
                        <th scope="col" title="predicted normal">"→ normal"</th>
                        <th scope="col" title="predicted pneumonia">"→ pneu."</th>
                        <th scope="col" title="predicted COVID-19">"→ COVID"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Train and validation loss per epoch as two lines.
#[component]
fn LossCurves(history: Vec<EpochReport>) -> impl IntoView {
    let (w, h) = (320.0f32, 120.0f32);
    let last = history.last().map_or(1, |r| r.epoch).max(1) as f32;
    let max = history
        .iter()
        .flat_map(|r| [r.train_loss, r.val_loss])
        .flatten()
        .fold(1e-6f32, f32::max);
    let line = |pick: fn(&EpochReport) -> Option<f32>| -> String {
        history
            .iter()
            .filter_map(|r| pick(r).map(|v| (r.epoch as f32, v)))
            .map(|(e, v)| format!("{:.1},{:.1}", e / last * w, h - v / max * h))
            .collect::<Vec<_>>()
            .join(" ")
    };
    view! {
        <figure class="curves">
            <svg
                viewBox=format!("-4 -4 {} {}", w + 8.0, h + 8.0)
                role="img"
                aria-label="training and validation loss per epoch"
                data-testid="loss-curves"
            >
                <rect x="0" y="0" width=w height=h class="frame"></rect>
                <polyline class="train" points=line(|r| r.train_loss)></polyline>
                <polyline class="val" points=line(|r| r.val_loss)></polyline>
            </svg>
            <figcaption>
                <span class="key train">"training loss"</span>
                " "
                <span class="key val">"validation loss"</span>
                {format!(" (top: {max:.3})")}
            </figcaption>
        </figure>
    }
}

/// A number input bound to a signal.
#[component]
fn NumberField<T>(
    label: &'static str,
    value: RwSignal<T>,
    step: &'static str,
    testid: &'static str,
) -> impl IntoView
where
    T: std::str::FromStr + std::fmt::Display + Clone + Send + Sync + 'static,
{
    view! {
        <label class="field">
            {label}
            <input
                type="number"
                step=step
                min="0"
                data-testid=testid
                prop:value=move || value.get().to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<T>() {
                        value.set(v);
                    }
                }
            />
        </label>
    }
}

/// The fine-tuning panel.
#[component]
pub fn FineTunePanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let ft = state.finetune;
    let model_label = move || {
        state.model.track();
        state.model_label()
    };
    let set = move || {
        let label = model_label();
        state
            .rows
            .with(|rows| usable(rows, ft.seed.get(), label.as_deref()))
    };
    let summary = move || {
        let set = set();
        let count = |validation: bool| {
            let mut c = [0usize; 3];
            for l in set.rows.iter().filter(|l| l.validation == validation) {
                c[l.label as usize] += 1;
            }
            format!(
                "{} (normal {}, pneumonia {}, COVID-19 {})",
                c.iter().sum::<usize>(),
                c[0],
                c[1],
                c[2]
            )
        };
        let mut text = format!("Training: {}. Validation: {}.", count(false), count(true));
        if set.left_out > 0 {
            text.push_str(&format!(
                " {} labelled slices are left out: not analysed yet, or analysed with other \
                 weights (drop them again to analyse them with the active model).",
                set.left_out
            ));
        }
        text
    };
    let running = move || ft.status.get() == FineTuneStatus::Running;
    let can_go_on = move || {
        ft.status.get() == FineTuneStatus::Stopped
            && ft.history.with(|h| h.last().map_or(0, |r| r.epoch)) < ft.epochs.get()
    };
    let progress = move || {
        ft.history.with(|h| {
            h.last().map(|r| {
                let timed: Vec<f64> = h.iter().skip(1).map(|r| r.ms).collect();
                let per_epoch = if timed.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {:.2} s per epoch",
                        timed.iter().sum::<f64>() / timed.len() as f64 / 1e3
                    )
                };
                (
                    r.epoch,
                    format!(
                        "Epoch {} of {}{per_epoch}; kept: epoch {} (best validation accuracy)",
                        r.epoch,
                        ft.epochs.get(),
                        r.best_epoch
                    ),
                )
            })
        })
    };
    let kept = move || {
        ft.history.with(|h| {
            let best = h.last()?.best_epoch;
            let report = h.iter().find(|r| r.epoch == best)?;
            Some((best, report.confusion.clone()?))
        })
    };
    let evaluation = RwSignal::new(None::<ConfusionMatrix>);
    let evaluate = move |_| {
        let label = state.model_label().unwrap_or_default();
        let m = state.rows.with_untracked(|rows| {
            let split = crate::batch::labelled_split(rows, ft.seed.get_untracked());
            label_confusion(rows, &split, &label, false)
        });
        evaluation.set(Some(m));
    };
    let export = move |_| {
        if let Some((name, bytes)) = ft.result.get_value()
            && let Err(message) = save_file(&bytes, "application/octet-stream", &name)
        {
            ft.status.set(FineTuneStatus::Failed(message));
        }
    };

    view! {
        <section class="panel finetune" aria-labelledby="finetune-title">
            <h2 id="finetune-title">"Fine-tune the classifier"</h2>
            <p class="hint">
                "Teach module S with your own labelled slices, in this browser: give slices a \
                 class in the table's Label column (files named NCP_…, CP_…, Normal_… or \
                 COVID-19_…, CAP_… are labelled from their names). Only S learns (the \
                 paper's \"heads\" mode): each slice's detector output is reused, so an epoch \
                 takes moments. Nothing leaves the machine."
            </p>
            <p data-testid="finetune-summary">{summary}</p>
            <div class="row-of-controls">
                <NumberField label="Split seed " value=ft.seed step="1" testid="split-seed"/>
                <button type="button" on:click=move |_| ft.seed.update(|s| *s += 1)>
                    "New split"
                </button>
            </div>
            <div class="row-of-controls">
                <NumberField label="Epochs " value=ft.epochs step="1" testid="ft-epochs"/>
                <NumberField
                    label="Learning rate "
                    value=ft.learning_rate
                    step="0.00001"
                    testid="ft-lr"
                />
                <NumberField label="Batch " value=ft.batch_size step="1" testid="ft-batch"/>
                <NumberField
                    label="Weight decay "
                    value=ft.weight_decay
                    step="0.0001"
                    testid="ft-decay"
                />
            </div>
            <div class="row-of-controls">
                <button
                    type="button"
                    data-testid="ft-start"
                    prop:disabled=move || running() || set().rows.is_empty()
                    on:click=move |_| finetune::start(state)
                >
                    "Start fine-tuning"
                </button>
                <button
                    type="button"
                    data-testid="ft-stop"
                    prop:disabled=move || !running()
                    on:click=move |_| ft.stop.set(true)
                >
                    "Stop"
                </button>
                <button
                    type="button"
                    data-testid="ft-resume"
                    prop:disabled=move || !can_go_on()
                    on:click=move |_| finetune::resume(state)
                >
                    "Go on"
                </button>
                <button
                    type="button"
                    data-testid="ft-apply"
                    prop:disabled=move || running() || ft.history.with(Vec::is_empty)
                    on:click=move |_| finetune::apply(state)
                >
                    "Use the kept model"
                </button>
                <button
                    type="button"
                    data-testid="ft-export"
                    prop:disabled=move || !ft.has_result.get()
                    on:click=export
                >
                    "Export it"
                </button>
            </div>
            {move || {
                progress()
                    .map(|(epoch, text)| {
                        view! {
                            <progress
                                max=move || ft.epochs.get().max(1)
                                value=epoch
                                data-testid="ft-progress"
                            ></progress>
                            <p data-testid="ft-progress-text">{text}</p>
                        }
                    })
            }}
            {move || {
                match ft.status.get() {
                    FineTuneStatus::Failed(message) => {
                        Some(view! { <p class="error" role="alert">{message}</p> })
                    }
                    _ => None,
                }
            }}
            {move || {
                let history = ft.history.get();
                (history.len() > 1).then(|| view! { <LossCurves history/> })
            }}
            {move || {
                kept()
                    .map(|(epoch, matrix)| {
                        view! {
                            <Metrics matrix caption=format!("Validation, epoch {epoch} (kept)")/>
                        }
                    })
            }}
            <div class="row-of-controls">
                <button type="button" data-testid="evaluate-labelled" on:click=evaluate>
                    "Evaluate the active model on the labelled slices"
                </button>
            </div>
            {move || {
                evaluation
                    .get()
                    .map(|matrix| {
                        view! {
                            <Metrics
                                matrix
                                caption="The active model on every labelled slice analysed with it"
                                    .to_string()
                            />
                        }
                    })
            }}
        </section>
    }
}
