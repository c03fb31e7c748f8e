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

/// The response to a GET of `url`, if it succeeded (2xx).
async fn fetch_ok(url: &str) -> Result<web_sys::Response, String> {
    let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| format!("{url} could not be fetched ({e:?})"))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    Ok(response)
}

/// Fetches a file beside the page (same origin; the service worker answers offline), calling
/// `progress(bytes so far, total if the server says)` as the body arrives (reading the response
/// stream where the browser offers one, else the whole body at once).
pub async fn fetch_with_progress(
    url: &str,
    progress: impl Fn(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let js_error = |e: JsValue| format!("{e:?}");
    let response = fetch_ok(url).await?;
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(body) = response.body() else {
        return body_bytes(response, url).await;
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes: Vec<u8> = Vec::with_capacity(total.unwrap_or(0) as usize);
    progress(0, total);
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("{url} could not be read ({})", js_error(e)))?;
        let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            break;
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &JsValue::from_str("value")) {
            let part: js_sys::Uint8Array = value.unchecked_into();
            let start = bytes.len();
            bytes.resize(start + part.length() as usize, 0);
            part.copy_to(&mut bytes[start..]);
        }
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// The whole body of `response` (a GET of `url`).
async fn body_bytes(response: web_sys::Response, url: &str) -> Result<Vec<u8>, String> {
    let js_error = |e: JsValue| format!("{e:?}");
    let buffer = wasm_bindgen_futures::JsFuture::from(response.array_buffer().map_err(js_error)?)
        .await
        .map_err(|e| format!("{url} could not be read ({})", js_error(e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
