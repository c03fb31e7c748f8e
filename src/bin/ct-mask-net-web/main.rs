//! The web page's entry point. Built for wasm32 by Trunk from `www/index.html`; natively it
//! only explains how to run it. The same wasm runs twice: in the page it mounts the Leptos app
//! (`ct_mask_net::app`), in the engine's Web Worker (`www/worker.js`) it starts the engine.

// The static constructors (the GPU backend registers its kernels through them), synthesized
// by the linker.
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // Run the constructors once, here. Without an explicit call the linker wraps every export
    // in a call to them, so every event handler and promise callback paid for all of them again
    // (about 50 ms each in Chromium; a drop of 38 files stalled the page for 2 s).
    // SAFETY: called once, first, before any code that reads what the constructors register.
    unsafe { __wasm_call_ctors() };
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
