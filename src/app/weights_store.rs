//! Keeps the user's checkpoint files in the browser (Cache Storage), so that a reload or an
//! offline visit starts with the same model. Nothing leaves the machine: the cache belongs to
//! this page's origin and only this page reads it.
//!
//! Layout of the cache [`CACHE_NAME`]: `user-weights/manifest.json` lists the loads in order
//! (`[["classification_model.pth"], ["segmentation_model.pth"]]`) and
//! `user-weights/<load>/<file>` holds each file's bytes. The name does not start with the
//! service worker's prefix, so a new build of the page never deletes it.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Cache, File, Response};

/// The cache holding the user's weights.
const CACHE_NAME: &str = "user-weights-v1";
/// Key of the list of loads.
const MANIFEST: &str = "user-weights/manifest.json";

fn js_error(what: &str) -> impl Fn(JsValue) -> String + '_ {
    move |e| {
        let text = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| format!("{e:?}"));
        format!("{what} ({text})")
    }
}

/// The page's Cache Storage.
fn caches() -> Result<web_sys::CacheStorage, String> {
    web_sys::window()
        .ok_or("no window")?
        .caches()
        .map_err(js_error(
            "this browser keeps no offline storage for the page",
        ))
}

async fn open() -> Result<Cache, String> {
    let cache = JsFuture::from(caches()?.open(CACHE_NAME))
        .await
        .map_err(js_error("the browser's storage could not be opened"))?;
    Ok(cache.unchecked_into())
}

fn file_key(load: usize, file: usize) -> String {
    format!("user-weights/{load}/{file}")
}

/// Replaces what is stored with `loads` (each load a list of files, in order).
pub async fn save(loads: &[Vec<File>]) -> Result<(), String> {
    clear().await?;
    let cache = open().await?;
    let mut names = Vec::with_capacity(loads.len());
    for (i, files) in loads.iter().enumerate() {
        let mut load = Vec::with_capacity(files.len());
        for (j, file) in files.iter().enumerate() {
            let response = Response::new_with_opt_blob(Some(file))
                .map_err(js_error("a file could not be stored"))?;
            JsFuture::from(cache.put_with_str(&file_key(i, j), &response))
                .await
                .map_err(js_error(
                    "the browser refused to store the weights (storage full?)",
                ))?;
            load.push(file.name());
        }
        names.push(load);
    }
    let manifest = serde_json::to_string(&names).unwrap_or_default();
    let response = Response::new_with_opt_str(Some(&manifest))
        .map_err(js_error("the list of weights could not be stored"))?;
    // Written last: a half-written store has no manifest and reads as empty.
    JsFuture::from(cache.put_with_str(MANIFEST, &response))
        .await
        .map_err(js_error(
            "the browser refused to store the weights (storage full?)",
        ))?;
    Ok(())
}

/// The stored loads, as files with their original names; empty when nothing is stored.
pub async fn load() -> Result<Vec<Vec<File>>, String> {
    let cache = open().await?;
    let Some(manifest) = fetch(&cache, MANIFEST).await? else {
        return Ok(Vec::new());
    };
    let text = JsFuture::from(
        manifest
            .text()
            .map_err(js_error("the list of saved weights could not be read"))?,
    )
    .await
    .map_err(js_error("the list of saved weights could not be read"))?
    .as_string()
    .unwrap_or_default();
    let names: Vec<Vec<String>> = serde_json::from_str(&text)
        .map_err(|e| format!("the list of saved weights is damaged ({e})"))?;
    let mut loads = Vec::with_capacity(names.len());
    for (i, load) in names.iter().enumerate() {
        let mut files = Vec::with_capacity(load.len());
        for (j, name) in load.iter().enumerate() {
            let response = fetch(&cache, &file_key(i, j))
                .await?
                .ok_or_else(|| format!("the saved file {name} is missing"))?;
            let blob: Blob = JsFuture::from(
                response
                    .blob()
                    .map_err(js_error("a saved file could not be read"))?,
            )
            .await
            .map_err(js_error("a saved file could not be read"))?
            .unchecked_into();
            let parts = js_sys::Array::of1(&blob);
            let file = File::new_with_blob_sequence(&parts, name)
                .map_err(js_error("a saved file could not be read"))?;
            files.push(file);
        }
        loads.push(files);
    }
    Ok(loads)
}

async fn fetch(cache: &Cache, key: &str) -> Result<Option<Response>, String> {
    let found = JsFuture::from(cache.match_with_str(key))
        .await
        .map_err(js_error("the browser's storage could not be read"))?;
    Ok(found.dyn_into::<Response>().ok())
}

/// Forgets the stored weights.
pub async fn clear() -> Result<(), String> {
    JsFuture::from(caches()?.delete(CACHE_NAME))
        .await
        .map_err(js_error("the saved weights could not be removed"))?;
    Ok(())
}

/// Removes `url` (a file beside the page) from every cache of the service worker, so that the
/// next visit fetches it again (used when a cached copy proves damaged).
pub async fn forget_cached(url: &str) {
    let Ok(storage) = caches() else {
        return;
    };
    let Ok(names) = JsFuture::from(storage.keys()).await else {
        return;
    };
    for name in js_sys::Array::from(&names).iter().filter_map(|n| n.as_string()) {
        if !name.starts_with("ct-mask-net-") {
            continue;
        }
        if let Ok(cache) = JsFuture::from(storage.open(&name)).await {
            let cache: Cache = cache.unchecked_into();
            let _ = JsFuture::from(cache.delete_with_str(url)).await;
        }
    }
}
