//! The web page (Leptos, client-side rendered). Compiled for wasm32 only.
//!
//! Everything runs in the browser: the models live in an engine (`crate::engine`) in a Web
//! Worker ([`worker`], driven through [`client`]), files are read locally, results are saved
//! through Blob URLs, and no request leaves the page's own origin. Each component lives in its
//! own file; [`state`] holds what they share.

mod batch_table;
mod browser;
pub(crate) mod client;
mod diagnostics;
mod export;
mod finetune;
mod finetune_panel;
mod folders;
mod header;
mod input_panel;
mod overlay;
mod queue;
mod runner;
mod slice_view;
mod state;
mod study_panel;
mod weights;
mod weights_panel;
mod weights_store;
mod why_view;
pub mod worker;

use leptos::prelude::*;

use batch_table::BatchTable;
use client::{ClientEvent, EngineClient};
use diagnostics::Diagnostics;
use export::ExportPanel;
use finetune_panel::FineTunePanel;
use header::Header;
use input_panel::InputPanel;
use slice_view::SliceView;
use state::AppState;
use study_panel::StudyPanel;
use weights_panel::WeightsPanel;
use why_view::WhyView;

/// Mounts the page into `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    leptos::mount::mount_to_body(App);
}

/// The whole page: shared state, the engine with the placeholder model, and the panels.
#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    let client = EngineClient::start(move |event| match event {
        ClientEvent::Backend {
            name,
            detail,
            choice,
        } => {
            state.backend.set(name);
            state.backend_detail.set(detail);
            state.backend_choice.set(choice);
        }
        ClientEvent::Restarted { reason } => weights::restore_model(state, reason),
    });
    state.engine.set_value(Some(client));
    weights::start(state);

    view! {
        <Header/>
        <main class="layout">
            <div class="column">
                <WeightsPanel/>
                <InputPanel/>
                <BatchTable/>
                <StudyPanel/>
                <ExportPanel/>
                <FineTunePanel/>
            </div>
            <div class="column">
                <SliceView/>
                <WhyView/>
                <Diagnostics/>
            </div>
        </main>
    }
}
