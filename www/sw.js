// sw.js — the service worker that makes the page work offline and installable. It precaches the
// app shell, the wasm and the sample images in a versioned cache; every same-origin GET is served
// from the network when there is one (refreshing the cached copy, so an update replaces the old
// files) and from the cache when there is none or it answers with a server error. The weights are not handled here: stylize-api.js
// keeps them in a cache of their own, checked by SHA-256. Activating a new VERSION deletes the
// caches of older versions.
const VERSION = 'stylize-app-v7'; // v2: coarse-to-fine runs; v3: tiles, memory budget, png-worker.js; v4: colours, steering, records, procedural samples; v5: style masks; v6: the page and the API in modules (app/, api/); v7: video (app/video.js, api/video*.js, vendor/)
const SHELL = ['./', 'index.html', 'style.css', 'app/main.js', 'app/store.js', 'app/pickers.js', 'app/settings-form.js', 'app/regions.js', 'app/blend.js',
  'app/run.js', 'app/plot.js', 'app/video.js', 'png-worker.js', 'stylize-api.js', 'api/engine.js', 'api/weights.js', 'api/images.js', 'api/inputs.js',
  'api/transfer.js', 'api/run-loop.js', 'api/video.js', 'api/video-run.js', 'vendor/mediabunny.min.mjs', 'vendor/fflate/browser.js', 'style-transfer.js', 'stylize.js', 'stylize_bg.wasm',
  'manifest.webmanifest', 'icon.svg', 'samples/index.json'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(VERSION);
    await cache.addAll(SHELL);
    const samples = await (await fetch('samples/index.json')).json();
    await cache.addAll([...samples.photos, ...samples.styles].map((f) => `samples/${f}`));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('stylize-app-') && key !== VERSION) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.endsWith('.safetensors')) return;
  event.respondWith((async () => {
    const cache = await caches.open(VERSION);
    let response;
    try {
      response = await fetch(event.request);
    } catch (offline) {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      if (cached) return cached;
      throw offline;
    }
    if (response.status === 200 && response.type === 'basic') {
      // Refreshed in the background: a full quota or an odd response never fails the request.
      event.waitUntil(cache.put(event.request, response.clone()).catch(() => {}));
    }
    // A server that is down behind a proxy (5xx) or an opaque failure: the cached copy rather than
    // a broken page. Redirects, 4xx (a file that is gone) and partial content pass through.
    if (response.status >= 500 || response.type === 'opaque') {
      return (await cache.match(event.request, { ignoreSearch: true })) ?? response;
    }
    return response;
  })());
});
