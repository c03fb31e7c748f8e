//! "Why": the best-ranked rows of module S's input for the selected slice.

use leptos::prelude::*;

use super::state::AppState;

/// Rows of S's input shown.
const SHOWN_ROWS: usize = 10;

/// What module S read for the selected slice.
#[component]
pub fn WhyView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let rows = move || {
        state.selected_result().map(|(_, result)| {
            let padded = result.analysis.report.classifier_input_padded;
            let rows: Vec<Vec<f32>> = result
                .analysis
                .ranked_boxes
                .chunks(5)
                .take(SHOWN_ROWS)
                .map(<[f32]>::to_vec)
                .collect();
            (rows, padded)
        })
    };

    view! {
        <section class="panel why" data-testid="why-view" aria-labelledby="why-title">
            <h2 id="why-title">"Why this class"</h2>
            <p>
                "Module S does not look at the pixels. It reads the 256 best-ranked detections of \
                 the lesion detector, five numbers each (the detection score and the four raw box \
                 regression outputs tx, ty, tw, th), and turns them into the three class \
                 probabilities. The ten highest-ranked rows it read are below."
            </p>
            {move || match rows() {
                None => view! { <p class="hint">"Select an analysed row."</p> }.into_any(),
                Some((rows, padded)) => {
                    view! {
                        <table class="why-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Rank"</th>
                                    <th scope="col">"Score"</th>
                                    <th scope="col">"tx"</th>
                                    <th scope="col">"ty"</th>
                                    <th scope="col">"tw"</th>
                                    <th scope="col">"th"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, row)| {
                                        view! {
                                            <tr>
                                                <td class="numeric">{i + 1}</td>
                                                {row
                                                    .into_iter()
                                                    .map(|v| {
                                                        view! {
                                                            <td class="numeric">
                                                                {format!("{v:.3}")}
                                                            </td>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                        <Show when=move || padded>
                            <p class="hint">
                                "Fewer than 256 detections were found, so rows were repeated \
                                 to fill S's input."
                            </p>
                        </Show>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
