//! Works through the engine's requests one at a time, in order, on the current thread: in the
//! Web Worker, or in the page itself when no worker can start.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;

use crate::engine::{Engine, Reply, Request};

/// Where replies go.
pub type ReplySink = Rc<dyn Fn(Reply)>;

struct State {
    /// `None` while a request is being handled (the engine is moved out across the await).
    engine: Option<Engine>,
    queue: VecDeque<Request>,
    busy: bool,
}

/// A request queue in front of an [`Engine`]; every request gets exactly one reply, in order.
#[derive(Clone)]
pub struct Runner {
    state: Rc<RefCell<State>>,
    replies: ReplySink,
}

impl Runner {
    /// A runner around `engine`; replies go to `replies`.
    pub fn new(engine: Engine, replies: ReplySink) -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                engine: Some(engine),
                queue: VecDeque::new(),
                busy: false,
            })),
            replies,
        }
    }

    /// The engine's [`Reply::Hello`].
    pub fn hello(&self) -> Reply {
        let state = self.state.borrow();
        match &state.engine {
            Some(engine) => engine.hello(),
            None => Reply::Hello {
                backend: String::new(),
                detail: String::new(),
            },
        }
    }

    /// Queues a request; starts working through the queue if idle.
    pub fn push(&self, request: Request) {
        let start = {
            let mut state = self.state.borrow_mut();
            state.queue.push_back(request);
            !std::mem::replace(&mut state.busy, true)
        };
        if start {
            let runner = self.clone();
            wasm_bindgen_futures::spawn_local(async move { runner.drain().await });
        }
    }

    async fn drain(self) {
        loop {
            // Let the page (or the worker's message handler) run between requests.
            TimeoutFuture::new(0).await;
            let next = {
                let mut state = self.state.borrow_mut();
                match (state.queue.pop_front(), state.engine.take()) {
                    (Some(request), Some(engine)) => Some((request, engine)),
                    (request, engine) => {
                        state.engine = engine;
                        if let Some(request) = request {
                            state.queue.push_front(request);
                        }
                        state.busy = false;
                        None
                    }
                }
            };
            let Some((request, mut engine)) = next else {
                return;
            };
            let reply = engine.handle(request).await;
            self.state.borrow_mut().engine = Some(engine);
            (self.replies)(reply);
        }
    }
}
