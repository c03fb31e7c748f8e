// The engine's Web Worker. The page's first message names its wasm bindings and binary
// (src/app/client.rs); this loads them, the Rust main() sees no window and starts the engine
// (src/app/worker.rs), which says hello to the page when it is ready for requests.
//
// The names come by message rather than in this script's URL: a worker served by the service
// worker's cache gets the cached response's URL, which has no query string.
self.addEventListener('message', async (event) => {
  const { js, wasm } = event.data;
  const bindings = await import(js);
  await bindings.default({ module_or_path: wasm });
}, { once: true });
