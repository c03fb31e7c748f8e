//! Studies: the batch's slices grouped per scan (a DICOM series, or a patient's scan named in
//! the file names), head first, with the roll-up of their answers, the lesion burden slice by
//! slice, and a navigator through the selected slice's study.

use leptos::prelude::*;

use super::state::{AppState, class_label};
use crate::batch::{studies, study_summary};
use crate::study::{Study, StudySummary, locate};

/// Height of the lesion-burden chart, in SVG units (one unit per pixel at 1x).
const CHART_HEIGHT: f32 = 48.0;

/// Every study of the batch; hidden while no slice belongs to one.
#[component]
pub fn StudyPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let all = Memo::new(move |_| state.rows.with(|rows| studies(rows)));

    view! {
        <Show when=move || all.with(|s| !s.is_empty())>
            <section class="panel studies" data-testid="study-panel" aria-labelledby="studies-title">
                <h2 id="studies-title">"Studies"</h2>
                <p class="hint">
                    "Slices of one scan (a DICOM series, or names like NCP_<patient>_<scan>_<slice>) \
                     are grouped and put in order, head first. The study's answer is the class with \
                     the highest mean probability over its analysed slices; the model itself judges \
                     each slice alone."
                </p>
                <Navigator all/>
                {move || {
                    all.get().into_iter().map(|study| view! { <StudyCard study/> }).collect_view()
                }}
            </section>
        </Show>
    }
}

/// "Slice i of n" for the selected row, with buttons to the neighbouring slices.
#[component]
fn Navigator(all: Memo<Vec<Study>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    // (study label, index, count, previous id, next id) of the selected row.
    let here = move || {
        let id = state.selected.get()?;
        all.with(|studies| {
            let (study, index, count) = locate(studies, id)?;
            let previous = (index > 1).then(|| study.slices[index - 2]);
            let next = study.slices.get(index).copied();
            Some((study.label.clone(), index, count, previous, next))
        })
    };
    move || match here() {
        None => view! {
            <p class="hint" data-testid="study-position">
                "Select a slice of a study to step through it."
            </p>
        }
        .into_any(),
        Some((label, index, count, previous, next)) => view! {
            <div class="row-of-controls study-nav">
                <button
                    type="button"
                    data-testid="study-prev"
                    prop:disabled=previous.is_none()
                    on:click=move |_| state.selected.set(previous)
                    title="The slice above (towards the head)"
                >
                    "◀ Previous"
                </button>
                <span data-testid="study-position" aria-live="polite">
                    {format!("Slice {index} of {count} in {label}")}
                </span>
                <button
                    type="button"
                    data-testid="study-next"
                    prop:disabled=next.is_none()
                    on:click=move |_| state.selected.set(next)
                    title="The slice below (towards the feet)"
                >
                    "Next ▶"
                </button>
            </div>
        }
        .into_any(),
    }
}

/// One study: its answer, its most COVID-like slices and its lesion burden.
#[component]
fn StudyCard(study: Study) -> impl IntoView {
    let state = expect_context::<AppState>();
    let slices = study.slices.clone();
    let label = study.label.clone();
    let summary = move || state.rows.with(|rows| study_summary(rows, &study));
    let total = slices.len();

    view! {
        <article class="study" data-testid="study-card">
            <h3>{label}</h3>
            {move || match summary() {
                None => view! {
                    <p class="hint">{format!("{total} slices, none analysed yet.")}</p>
                }
                .into_any(),
                Some(s) => view! { <Summary summary=s total slices=slices.clone()/> }.into_any(),
            }}
        </article>
    }
}

/// The roll-up of an analysed study.
#[component]
fn Summary(summary: StudySummary, total: usize, slices: Vec<usize>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let p = summary.mean_probabilities;
    let won = summary.slices_per_class;
    let mean_areas = summary.mean_lesion_percent.map(|a| {
        let largest = summary
            .largest_lesion_slice
            .map(|s| format!("; largest at slice {s}"))
            .unwrap_or_default();
        format!(
            "Mean lesion area: GGO {:.2}%, consolidation {:.2}%{largest}.",
            a.ggo, a.consolidation
        )
    });

    view! {
        <p>
            <strong data-testid="study-class" class=summary.predicted_class>
                {class_label(summary.predicted_class)}
            </strong>
            {format!(
                " (mean probability normal {:.3}, common pneumonia {:.3}, COVID-19 {:.3}) over \
                 {} of {total} slices; slices won: normal {}, pneumonia {}, COVID-19 {}.",
                p.normal,
                p.pneumonia,
                p.covid,
                summary.slices,
                won[0],
                won[1],
                won[2],
            )}
        </p>
        <p class="row-of-controls">
            "Most COVID-like: "
            {summary
                .most_covid
                .iter()
                .map(|r| {
                    let id = r.id;
                    view! {
                        <button
                            type="button"
                            class="link-like"
                            data-testid="study-top-slice"
                            on:click=move |_| state.selected.set(Some(id))
                        >
                            {format!("slice {} ({:.3})", r.slice, r.p_covid)}
                        </button>
                    }
                })
                .collect_view()}
        </p>
        {mean_areas.map(|text| view! { <p>{text}</p> })}
        <BurdenChart summary slices/>
    }
}

/// Lesion area per slice, head on the left: GGO (amber) under consolidation (magenta); a
/// click on a bar selects that slice.
#[component]
fn BurdenChart(summary: StudySummary, slices: Vec<usize>) -> impl IntoView {
    let state = expect_context::<AppState>();
    if summary.lesion_burden.is_empty() {
        return view! { <p class="hint">"No lesion areas (no lesion model)."</p> }.into_any();
    }
    let count = slices.len().max(1);
    let width = (count * 8).max(64) as f32;
    let bar = width / count as f32;
    let top = summary
        .lesion_burden
        .iter()
        .map(|b| b.ggo + b.consolidation)
        .fold(1.0f32, f32::max);
    let scale = CHART_HEIGHT / top;
    let bars = summary
        .lesion_burden
        .iter()
        .map(|b| {
            let x = (b.slice - 1) as f32 * bar;
            let ggo = b.ggo * scale;
            let consolidation = b.consolidation * scale;
            let id = slices.get(b.slice - 1).copied();
            let n = |v: f32| format!("{v:.2}");
            view! {
                <g class="burden-bar" on:click=move |_| state.selected.set(id)>
                    <rect class="hit" x=n(x) y="0" width=n(bar) height=n(CHART_HEIGHT)></rect>
                    <rect
                        class="ggo"
                        x=n(x)
                        y=n(CHART_HEIGHT - ggo)
                        width=n(bar * 0.8)
                        height=n(ggo)
                    ></rect>
                    <rect
                        class="consolidation"
                        x=n(x)
                        y=n(CHART_HEIGHT - ggo - consolidation)
                        width=n(bar * 0.8)
                        height=n(consolidation)
                    ></rect>
                </g>
            }
        })
        .collect_view();

    view! {
        <figure class="burden">
            <svg
                data-testid="study-burden"
                viewBox=format!("0 0 {width} {CHART_HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label="Lesion area per slice, head first"
            >
                {bars}
            </svg>
            <figcaption class="hint">
                {format!(
                    "Lesion area per slice, head on the left (top of the scale: {top:.1}% of the \
                     slice). Amber: GGO; magenta: consolidation. Click a bar to view that slice."
                )}
            </figcaption>
        </figure>
    }
    .into_any()
}
