// Service worker: keeps the page usable with the network off.
//
// On install it reads index.html, finds every file the page needs (Trunk gives the script,
// wasm, stylesheet and icon hashed names, written into index.html) and stores them in a cache
// named after that set of files, so a new build gets a new cache and old ones are dropped.
// Afterwards:
// - the page itself (navigations, index.html) comes from the network when it answers, so a
//   new build is seen at once, and from the cache when it does not;
// - every other same-origin GET is served from the cache, fetched and stored on a miss.
// Only same-origin requests are handled; nothing is ever sent elsewhere.

'use strict';

const CACHE_PREFIX = 'ct-mask-net-';
const SHELL = ['./', 'index.html', 'loader.js', 'worker.js', 'manifest.webmanifest'];

/** Same-origin files referenced by index.html: src=, href= and data-js / data-wasm. */
function referencedFiles(html) {
  const found = new Set();
  const pattern = /(?:src|href|data-js|data-wasm)\s*=\s*"([^"]+)"/g;
  for (const match of html.matchAll(pattern)) {
    const url = new URL(match[1], self.registration.scope);
    if (url.origin === self.location.origin) found.add(url.href);
  }
  return [...found];
}

/** The cache's name: a short hash of the sorted list of files, so each build has its own. */
function cacheName(files) {
  let hash = 0;
  for (const c of files.slice().sort().join('\n')) {
    hash = (Math.imul(hash, 31) + c.charCodeAt(0)) | 0;
  }
  return CACHE_PREFIX + (hash >>> 0).toString(16);
}

async function precache() {
  const response = await fetch('index.html', { cache: 'no-store' });
  if (!response.ok) throw new Error(`index.html: HTTP ${response.status}`);
  const html = await response.clone().text();
  const files = [...new Set([...SHELL.map((f) => new URL(f, self.registration.scope).href),
    ...referencedFiles(html)])];
  const cache = await caches.open(cacheName(files));
  await cache.addAll(files);
  await cache.put('index.html', response);
  // Tell activate which cache is current.
  await caches.open(CACHE_PREFIX + 'meta').then((meta) =>
    meta.put('current', new Response(cacheName(files))));
}

async function currentCacheName() {
  const meta = await caches.open(CACHE_PREFIX + 'meta');
  const entry = await meta.match('current');
  return entry ? entry.text() : null;
}

async function dropOldCaches() {
  const keep = await currentCacheName();
  const names = await caches.keys();
  await Promise.all(names
    .filter((n) => n.startsWith(CACHE_PREFIX) && n !== keep && n !== CACHE_PREFIX + 'meta')
    .map((n) => caches.delete(n)));
}

async function fromCache(request) {
  const name = await currentCacheName();
  if (!name) return undefined;
  const cache = await caches.open(name);
  return cache.match(request, { ignoreSearch: true });
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const name = await currentCacheName();
      if (name) (await caches.open(name)).put('index.html', response.clone());
    }
    return response;
  } catch (error) {
    const cached = (await fromCache('index.html')) || (await fromCache(request));
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await fromCache(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') {
    const name = await currentCacheName();
    if (name) (await caches.open(name)).put(request, response.clone());
  }
  return response;
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(dropOldCaches().then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const isPage = request.mode === 'navigate' || url.pathname.endsWith('/index.html') ||
    url.href === self.registration.scope;
  event.respondWith(isPage ? networkFirst(request) : cacheFirst(request));
});
