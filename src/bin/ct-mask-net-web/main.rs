//! The web page's entry point. Built for wasm32 by Trunk from `www/index.html`; natively it
//! only explains how to run it. The same wasm runs twice: in the page it mounts the Leptos app
//! (`ct_mask_net::app`), in the engine's Web Worker (`www/worker.js`) it starts the engine.

#[cfg(target_arch = "wasm32")]
fn main() {
    if ct_mask_net::app::worker::in_worker() {
        ct_mask_net::app::worker::run();
    } else {
        ct_mask_net::app::mount();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("ct-mask-net-web is the web page: build and serve it with ./scripts/run-web.sh");
}
