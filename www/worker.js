// The engine's Web Worker. The page's first message names its wasm bindings and binary and
// the backend wanted ('auto' or 'cpu'; src/app/client.rs); this describes the WebGPU adapter
// for the diagnostics, loads the wasm, and the Rust main() sees no window and starts the
// engine (src/app/worker.rs), which says hello to the page when it is ready for requests.
//
// The names come by message rather than in this script's URL: a worker served by the service
// worker's cache gets the cached response's URL, which has no query string.

// Limits worth a line in a bug report (the model's largest buffers are a few hundred MB).
const LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];

// What the adapter says about itself, or why there is none. Burn requests its own adapter
// and device; this one only describes it.
async function describeAdapter() {
  if (!('gpu' in navigator)) {
    return { available: false, reason: 'this browser has no WebGPU' };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      return { available: false, reason: 'the browser offers no WebGPU adapter' };
    }
    const info = adapter.info || {};
    const name = [info.vendor, info.architecture, info.device, info.description]
      .filter((part) => part).join(' ') || 'unnamed adapter';
    const limits = LIMITS.filter((key) => key in adapter.limits)
      .map((key) => `${key} ${adapter.limits[key]}`).join(', ');
    return { available: true, name, limits, fallback: !!adapter.isFallbackAdapter };
  } catch (error) {
    return { available: false, reason: `WebGPU adapter request failed: ${error}` };
  }
}

self.addEventListener('message', async (event) => {
  const { js, wasm, backend } = event.data;
  const adapter = backend === 'cpu'
    ? { available: false, reason: 'the CPU backend was chosen' }
    : await describeAdapter();
  self.ctMaskNetBoot = { backend: backend || 'auto', adapter };
  const bindings = await import(js);
  await bindings.default({ module_or_path: wasm });
}, { once: true });
