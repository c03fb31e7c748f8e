//! The Web Worker side: the same wasm as the page, started by `www/worker.js`. It holds the
//! models and answers the page's requests (`crate::engine`), so long CPU work never blocks
//! the page.

use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::runner::Runner;
use crate::backend;
use crate::engine::{Engine, Envelope, Reply, Request};

/// How the page names this backend.
pub const WORKER_BACKEND: &str = "CPU (WebAssembly, background worker)";

/// Whether this code runs in a worker (no `window`).
pub fn in_worker() -> bool {
    js_sys::global().dyn_into::<web_sys::Window>().is_err()
}

/// An [`Envelope`] as a JS message: `{ header, buffers: [Uint8Array] }`, plus the list of
/// buffers to transfer (moved, not copied).
pub fn envelope_to_js(envelope: Envelope) -> (JsValue, Array) {
    let message = js_sys::Object::new();
    let buffers = Array::new();
    let transfer = Array::new();
    for buffer in &envelope.buffers {
        let array = Uint8Array::from(buffer.as_slice());
        transfer.push(&array.buffer());
        buffers.push(&array);
    }
    let _ = js_sys::Reflect::set(&message, &"header".into(), &envelope.header.into());
    let _ = js_sys::Reflect::set(&message, &"buffers".into(), &buffers);
    (message.into(), transfer)
}

/// A JS message back into an [`Envelope`].
pub fn envelope_from_js(message: &JsValue) -> Result<Envelope, String> {
    let field = |name: &str| js_sys::Reflect::get(message, &name.into()).ok();
    let header = field("header")
        .and_then(|h| h.as_string())
        .ok_or("malformed engine message: no header")?;
    let buffers = field("buffers")
        .filter(|b| Array::is_array(b))
        .map(|b| {
            Array::from(&b)
                .iter()
                .map(|item| Uint8Array::new(&item).to_vec())
                .collect()
        })
        .unwrap_or_default();
    Ok(Envelope { header, buffers })
}

fn post(scope: &DedicatedWorkerGlobalScope, reply: Reply) {
    let (message, transfer) = envelope_to_js(reply.encode());
    if let Err(e) = scope.post_message_with_transfer(&message, &transfer) {
        log::error!("worker: could not post a reply: {e:?}");
    }
}

/// Starts the engine in this worker and tells the page it is ready.
pub fn run() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let out = scope.clone();
    let runner = Runner::new(
        Engine::new(backend::cpu(), WORKER_BACKEND),
        Rc::new(move |reply| post(&out, reply)),
    );

    let handler_runner = runner.clone();
    let handler_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match envelope_from_js(&event.data()).and_then(Request::decode) {
            Ok(request) => handler_runner.push(request),
            // Still one reply per request, so the page's bookkeeping stays in step.
            Err(message) => post(&handler_scope, Reply::AnalysisFailed(message)),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&scope, runner.hello());
}
