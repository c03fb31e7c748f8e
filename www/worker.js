// The engine's Web Worker. It loads the page's own wasm (names passed in the query string by
// src/app/client.rs); the Rust main() sees no window and starts the engine
// (src/app/worker.rs), which says hello to the page when it is ready.
const params = new URL(self.location.href).searchParams;
const bindings = await import(params.get('js'));
await bindings.default({ module_or_path: params.get('wasm') });
