//! The web page (Leptos, client-side rendered). Compiled for wasm32 only.

use leptos::prelude::*;

/// Mounts the page into `<body>`.
pub fn mount() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    leptos::mount::mount_to_body(|| view! { <p>"CT-Mask-Net Web"</p> });
}
