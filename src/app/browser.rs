//! Small wrappers over browser APIs: saving files through Blob URLs (nothing leaves the
//! machine), reading files and the clipboard.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

/// The value of `name` in the page's URL query (`?backend=cpu&warmup=0`), if present.
pub fn url_param(name: &str) -> Option<String> {
    let query = web_sys::window()?.location().search().ok()?;
    query.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

/// The files of a `FileList` (from a file input or a drop).
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Reads a whole file into memory.
pub async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let file = gloo_file::File::from(file.clone());
    gloo_file::futures::read_as_bytes(&file)
        .await
        .map_err(|e| format!("the browser could not read the file ({e})"))
}

/// Offers `bytes` as a download named `filename`, through a Blob URL of this page.
pub fn save_file(bytes: &[u8], mime: &str, filename: &str) -> Result<(), String> {
    let js_error = |e: JsValue| format!("the browser refused to save the file ({e:?})");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js_error)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let anchor: HtmlAnchorElement = document()
        .create_element("a")
        .map_err(js_error)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(filename);
    anchor.click();
    // The download has started reading the blob; free it a little later.
    leptos::task::spawn_local(async move {
        TimeoutFuture::new(30_000).await;
        let _ = Url::revoke_object_url(&url);
    });
    Ok(())
}

/// Copies `text` to the clipboard; `false` when the browser does not allow it.
pub async fn copy_to_clipboard(text: &str) -> bool {
    let navigator = window().navigator();
    // `navigator.clipboard` is missing outside secure contexts: check before calling it.
    let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .map(|c| !c.is_undefined() && !c.is_null())
        .unwrap_or(false);
    if !has_clipboard {
        return false;
    }
    let promise = navigator.clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// Fetches a file beside the page (same origin; the service worker answers offline).
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let js_error = |e: JsValue| format!("{e:?}");
    let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| format!("{url} could not be fetched ({})", js_error(e)))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = wasm_bindgen_futures::JsFuture::from(response.array_buffer().map_err(js_error)?)
        .await
        .map_err(|e| format!("{url} could not be read ({})", js_error(e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
