// Starts the app. Trunk's own loader is an inline script, which the page's
// Content-Security-Policy forbids; this file is same-origin, so it may run. Trunk.toml's
// `pattern_script` writes the hashed names of the bindings and the wasm into the tag.
const tag = document.querySelector('script[data-js][data-wasm]');
const loading = document.getElementById('loading');

// Offline use: the service worker (sw.js) keeps the page, its wasm and assets in a cache.
// Browsers allow it only in secure contexts (https, or http://localhost / 127.0.0.1). The
// page's header shows `window.ctMaskNetOffline`, updated on each 'ct-mask-net-offline' event.
function setOffline(state) {
    window.ctMaskNetOffline = state;
    window.dispatchEvent(new Event('ct-mask-net-offline'));
}
if ('serviceWorker' in navigator && window.isSecureContext) {
    setOffline('preparing');
    navigator.serviceWorker.register('sw.js')
        .then(() => navigator.serviceWorker.ready)
        .then(() => setOffline('ready'))
        .catch((error) => {
            console.warn('offline cache unavailable:', error);
            setOffline('unavailable: ' + error);
        });
} else {
    setOffline('unavailable: the page is not served from https or localhost');
}

// Where the bindings and the wasm are, for the engine's worker (src/app/client.rs).
window.ctMaskNetAssets = { js: tag.dataset.js, wasm: tag.dataset.wasm };

try {
    const bindings = await import(tag.dataset.js);
    await bindings.default({ module_or_path: tag.dataset.wasm });
    loading?.remove();
} catch (error) {
    console.error(error);
    if (loading) {
        loading.textContent = 'The app could not start: ' + error;
        loading.classList.add('error');
    }
}
