// Starts the app. Trunk's own loader is an inline script, which the page's
// Content-Security-Policy forbids; this file is same-origin, so it may run. Trunk.toml's
// `pattern_script` writes the hashed names of the bindings and the wasm into the tag.
const tag = document.querySelector('script[data-js][data-wasm]');
const loading = document.getElementById('loading');
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
