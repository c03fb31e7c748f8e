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

/// How the page names the CPU backend in the worker.
pub const WORKER_BACKEND: &str = "CPU (WebAssembly, background worker)";

/// How the page's names of GPU backends start.
pub const GPU_BACKEND_PREFIX: &str = "WebGPU";

/// Field of the message a panicking worker posts (see [`install_panic_hook`]).
pub const CRASH_FIELD: &str = "crash";

/// What `www/worker.js` found out before loading the wasm (`self.ctMaskNetBoot`).
struct Boot {
    /// `"cpu"` to skip the GPU, anything else to try it.
    backend: String,
    /// The adapter's name and limits, or why there is none.
    adapter: Result<(String, String), String>,
}

fn boot() -> Boot {
    let get = |object: &JsValue, key: &str| js_sys::Reflect::get(object, &key.into()).ok();
    let text = |object: &JsValue, key: &str| {
        get(object, key)
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let boot = get(&js_sys::global(), "ctMaskNetBoot").unwrap_or(JsValue::UNDEFINED);
    let adapter = get(&boot, "adapter").unwrap_or(JsValue::UNDEFINED);
    let available = get(&adapter, "available").and_then(|v| v.as_bool()) == Some(true);
    Boot {
        backend: text(&boot, "backend"),
        adapter: if available {
            let mut name = text(&adapter, "name");
            if get(&adapter, "fallback").and_then(|v| v.as_bool()) == Some(true) {
                name.push_str(", software fallback adapter");
            }
            Ok((name, text(&adapter, "limits")))
        } else {
            let reason = text(&adapter, "reason");
            Err(if reason.is_empty() {
                "no WebGPU adapter was described".into()
            } else {
                reason
            })
        },
    }
}

/// The engine on WebGPU if the page did not ask for the CPU, an adapter exists and it passes
/// [`backend::self_test`]; otherwise on the CPU, saying why.
async fn choose_engine() -> Engine {
    let boot = boot();
    let reason = if boot.backend == "cpu" {
        "the CPU backend was chosen".to_string()
    } else {
        match boot.adapter {
            Err(reason) => reason,
            Ok((name, limits)) => match backend::gpu().await {
                Err(e) => format!("WebGPU could not start ({e})"),
                Ok(gpu) => match backend::self_test(&gpu.device).await {
                    Err(e) => e.to_string(),
                    Ok(difference) => {
                        let detail = format!(
                            "adapter: {name}\nlimits: {limits}\nself-test against the CPU: \
                             largest difference {difference:.1e}"
                        );
                        let label = format!("{GPU_BACKEND_PREFIX} ({name})");
                        return Engine::new(gpu, label).with_detail(detail);
                    }
                },
            },
        }
    };
    log::info!("engine on the CPU: {reason}");
    Engine::new(backend::cpu(), WORKER_BACKEND).with_detail(format!("GPU not used: {reason}"))
}

/// On a panic, besides logging it, tell the page at once: a panic in wasm leaves the worker
/// unusable without necessarily raising an error event the page would see.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &CRASH_FIELD.into(), &info.to_string().into());
        let _ = scope.post_message(&message);
    }));
}

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
        .filter(Array::is_array)
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
    install_panic_hook();
    let _ = console_log::init_with_level(log::Level::Info);
    wasm_bindgen_futures::spawn_local(async {
        let engine = choose_engine().await;
        serve(engine);
    });
}

/// Answers the page's requests with `engine`. The page sends nothing before the hello.
fn serve(engine: Engine) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let out = scope.clone();
    let runner = Runner::new(engine, Rc::new(move |reply| post(&out, reply)));

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
