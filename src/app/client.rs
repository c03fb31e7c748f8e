//! The page's side of the engine: sends requests to the Web Worker and hands each reply to the
//! request that asked for it (they come back in order, one per request).
//!
//! The worker computes on WebGPU when the browser offers a working adapter and the user has
//! not chosen the CPU ([`BackendChoice`]), otherwise on the CPU.
//!
//! If the worker cannot start, the engine runs in the page instead (slower to respond while a
//! slice is analysed, but it works). If a running worker dies (a crash, a lost GPU, or the tab
//! running out of memory), the requests in flight fail with a plain message, a new worker is
//! started (on the CPU if the dead one used the GPU) and the page is told, so it can load the
//! model again; after repeated crashes the engine moves into the page.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::browser::url_param;
use super::runner::Runner;
use super::worker::{CRASH_FIELD, GPU_BACKEND_PREFIX, envelope_from_js, envelope_to_js};
use crate::backend;
use crate::engine::{Engine, Reply, Request};

/// How the page names the in-page fallback.
pub const IN_PAGE_BACKEND: &str = "CPU (WebAssembly, in the page: no background worker)";

/// Worker crashes after which the engine moves into the page.
const MAX_RESTARTS: u32 = 3;

/// Where the user's backend choice is kept between visits.
const CHOICE_KEY: &str = "ct-mask-net-backend";

/// Which backend the worker should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// WebGPU when it works, else the CPU.
    Auto,
    /// The CPU, always.
    Cpu,
}

impl BackendChoice {
    /// The word `worker.js` and the URL use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "cpu" => Some(Self::Cpu),
            "auto" | "webgpu" | "gpu" => Some(Self::Auto),
            _ => None,
        }
    }

    /// `?backend=cpu|auto` in the page's URL, else the choice saved last time, else auto.
    fn initial() -> Self {
        let from_url = url_param("backend").and_then(|word| Self::parse(&word));
        from_url
            .or_else(|| {
                storage()
                    .and_then(|s| s.get_item(CHOICE_KEY).ok().flatten())
                    .and_then(|word| Self::parse(&word))
            })
            .unwrap_or(Self::Auto)
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// What the client tells the page, apart from replies.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// The engine is ready on this backend.
    Backend {
        /// Plain-words name of the backend.
        name: String,
        /// The adapter and its limits, or why the GPU is not used.
        detail: String,
        /// The choice it was started with.
        choice: BackendChoice,
    },
    /// The engine was restarted after a crash and has no model: load it again.
    Restarted {
        /// What happened, in plain words.
        reason: String,
    },
}

type Events = Rc<dyn Fn(ClientEvent)>;
type Pending = oneshot::Sender<Result<Reply, String>>;

enum Transport {
    /// Not started yet, or being replaced.
    None,
    Worker {
        worker: Worker,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_error: Closure<dyn FnMut(ErrorEvent)>,
    },
    InPage(Runner),
}

struct Inner {
    transport: Transport,
    /// Senders of the requests sent, oldest first.
    pending: VecDeque<Pending>,
    /// Requests made before the engine said hello.
    backlog: Vec<Request>,
    /// Whether the engine said hello.
    ready: bool,
    restarts: u32,
    /// The backend the next worker is asked for.
    choice: BackendChoice,
    /// Whether the running engine computes on the GPU.
    on_gpu: bool,
    /// The wasm bindings and binary, for the worker (from `www/loader.js`).
    assets: Option<(String, String)>,
    events: Events,
}

impl Inner {
    /// Stops the worker. Returns whether it had said hello, and the senders of the requests it
    /// was sent, which die with it; requests still waiting for a hello stay in the backlog, with
    /// their senders, for the next engine.
    fn stop_engine(&mut self) -> (bool, VecDeque<Pending>) {
        if let Transport::Worker { worker, .. } = &self.transport {
            worker.terminate();
        }
        self.transport = Transport::None;
        let started = std::mem::take(&mut self.ready);
        let sent = if started {
            std::mem::take(&mut self.pending)
        } else {
            VecDeque::new()
        };
        (started, sent)
    }
}

/// Handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct EngineClient {
    inner: Rc<RefCell<Inner>>,
}

impl EngineClient {
    /// Starts the engine in a worker (or in the page if that fails). `events` hears about the
    /// backend and restarts.
    pub fn start(events: impl Fn(ClientEvent) + 'static) -> Self {
        let client = Self {
            inner: Rc::new(RefCell::new(Inner {
                transport: Transport::None,
                pending: VecDeque::new(),
                backlog: Vec::new(),
                ready: false,
                restarts: 0,
                choice: BackendChoice::initial(),
                on_gpu: false,
                assets: wasm_assets(),
                events: Rc::new(events),
            })),
        };
        client.spawn_worker();
        client
    }

    /// Sends `request`; resolves to its reply, or to a plain message if the engine died.
    pub async fn request(&self, request: Request) -> Result<Reply, String> {
        let (sender, receiver) = oneshot::channel();
        {
            let mut inner = self.inner.borrow_mut();
            inner.pending.push_back(sender);
            if inner.ready {
                send(&inner.transport, request);
            } else {
                inner.backlog.push(request);
            }
        }
        receiver
            .await
            .unwrap_or_else(|_| Err("the engine stopped before answering".into()))
    }

    /// Restarts the engine on `choice` (remembered for the next visit). Requests in flight
    /// fail; the page hears [`ClientEvent::Restarted`] and loads the model again.
    pub fn switch_backend(&self, choice: BackendChoice) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(CHOICE_KEY, choice.as_str());
        }
        let (events, failed) = {
            let mut inner = self.inner.borrow_mut();
            inner.choice = choice;
            let (_, sent) = inner.stop_engine();
            inner.on_gpu = false;
            (inner.events.clone(), sent)
        };
        for sender in failed {
            let _ = sender.send(Err("the engine was restarted on another backend".into()));
        }
        self.spawn_worker();
        events(ClientEvent::Restarted {
            reason: format!(
                "switching to the {} backend",
                match choice {
                    BackendChoice::Auto => "WebGPU (when available)",
                    BackendChoice::Cpu => "CPU",
                }
            ),
        });
    }

    fn spawn_worker(&self) {
        let worker = {
            let inner = self.inner.borrow();
            let choice = inner.choice;
            inner
                .assets
                .as_ref()
                .ok_or_else(|| "the page's loader did not say where the wasm is".to_string())
                .and_then(|(js, wasm)| new_worker(js, wasm, choice))
        };
        let worker = match worker {
            Ok(worker) => worker,
            Err(reason) => {
                log::warn!("no background worker ({reason}); the engine runs in the page");
                return self.run_in_page();
            }
        };

        let client = self.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let crash = js_sys::Reflect::get(&event.data(), &CRASH_FIELD.into())
                .ok()
                .and_then(|v| v.as_string());
            if let Some(crash) = crash {
                return client.on_worker_error(format!("it crashed: {crash}"));
            }
            match envelope_from_js(&event.data()).and_then(Reply::decode) {
                Ok(reply) => client.on_reply(reply),
                Err(message) => client.on_reply(Reply::AnalysisFailed(message)),
            }
        });
        let client = self.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            event.prevent_default();
            client.on_worker_error(event.message());
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let mut inner = self.inner.borrow_mut();
        inner.ready = false;
        inner.transport = Transport::Worker {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        };
    }

    fn run_in_page(&self) {
        let client = self.clone();
        let runner = Runner::new(
            Engine::new(backend::cpu(), IN_PAGE_BACKEND),
            Rc::new(move |reply| client.on_reply(reply)),
        );
        let hello = runner.hello();
        self.inner.borrow_mut().transport = Transport::InPage(runner);
        self.on_reply(hello);
    }

    fn on_reply(&self, reply: Reply) {
        if let Reply::Hello { backend, detail } = reply {
            let (events, choice) = {
                let mut inner = self.inner.borrow_mut();
                inner.ready = true;
                inner.on_gpu = backend.starts_with(GPU_BACKEND_PREFIX);
                for request in std::mem::take(&mut inner.backlog) {
                    send(&inner.transport, request);
                }
                (inner.events.clone(), inner.choice)
            };
            events(ClientEvent::Backend {
                name: backend,
                detail,
                choice,
            });
            return;
        }
        let sender = self.inner.borrow_mut().pending.pop_front();
        match sender {
            Some(sender) => {
                let _ = sender.send(Ok(reply));
            }
            None => log::warn!("engine reply with no request waiting: {reply:?}"),
        }
    }

    fn on_worker_error(&self, message: String) {
        let (started, events, failed, gpu_failed) = {
            let mut inner = self.inner.borrow_mut();
            let (started, sent) = inner.stop_engine();
            if started {
                inner.restarts += 1;
            }
            // A GPU that brought the worker down is not tried again in this visit.
            // So is one that may have brought it down while starting (before its hello).
            let gpu_failed = std::mem::take(&mut inner.on_gpu)
                || (!started && inner.choice == BackendChoice::Auto);
            if gpu_failed {
                inner.choice = BackendChoice::Cpu;
            }
            (started, inner.events.clone(), sent, gpu_failed)
        };
        let mut reason = if message.is_empty() {
            "the background worker stopped".to_string()
        } else {
            format!("the background worker stopped ({message})")
        };
        if gpu_failed {
            reason.push_str("; WebGPU is turned off until the page is reloaded");
        }
        log::error!("{reason}");
        for sender in failed {
            let _ = sender.send(Err(format!(
                "{reason}; it may have run out of memory. The engine was restarted"
            )));
        }
        if !started && gpu_failed {
            // It may have died in the GPU's start-up: try once more on the CPU.
            self.spawn_worker();
        } else if !started || self.inner.borrow().restarts > MAX_RESTARTS {
            // It never started, or keeps dying: carry on in the page.
            self.run_in_page();
        } else {
            self.spawn_worker();
        }
        if started {
            events(ClientEvent::Restarted { reason });
        }
    }
}

fn send(transport: &Transport, request: Request) {
    match transport {
        Transport::Worker { worker, .. } => {
            let (message, transfer) = envelope_to_js(request.encode());
            if let Err(e) = worker.post_message_with_transfer(&message, &transfer) {
                log::error!("could not send a request to the worker: {e:?}");
            }
        }
        Transport::InPage(runner) => runner.push(request),
        Transport::None => log::error!("request sent with no engine running"),
    }
}

/// `window.ctMaskNetAssets = { js, wasm }`, set by `www/loader.js`.
fn wasm_assets() -> Option<(String, String)> {
    let assets = js_sys::Reflect::get(&js_sys::global(), &"ctMaskNetAssets".into()).ok()?;
    let field = |name: &str| {
        js_sys::Reflect::get(&assets, &name.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    Some((field("js")?, field("wasm")?))
}

/// A module worker running `worker.js`, told where the page's own wasm is and which backend
/// to use.
fn new_worker(js: &str, wasm: &str, choice: BackendChoice) -> Result<Worker, String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    options.set_name("ct-mask-net engine");
    let worker = Worker::new_with_options("worker.js", &options).map_err(|e| format!("{e:?}"))?;
    let boot = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&boot, &"js".into(), &js.into());
    let _ = js_sys::Reflect::set(&boot, &"wasm".into(), &wasm.into());
    let _ = js_sys::Reflect::set(&boot, &"backend".into(), &choice.as_str().into());
    worker.post_message(&boot).map_err(|e| format!("{e:?}"))?;
    Ok(worker)
}
