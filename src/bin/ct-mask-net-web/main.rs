//! The web page's entry point: mounts the Leptos app (`ct_mask_net::app`). Built for wasm32 by
//! Trunk from `www/index.html`; natively it only explains how to run it.

#[cfg(target_arch = "wasm32")]
fn main() {
    ct_mask_net::app::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("ct-mask-net-web is the web page: build and serve it with ./scripts/run-web.sh");
}
