// Offline and installable: a page loaded once is reloaded with its server gone (no network at all)
// and still stylises — the service worker serves the page, the wasm and the samples, and the
// weights come from their own cache. The web app manifest and its icon are served. Headless
// Chromium (software WebGPU), its own server so that it can be shut down.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { serve, browser, openPage, requireSamples, DIST, ready } from './harness.mjs';

let srv, b, down;
after(async () => { await b?.close(); await srv?.close(); await down?.close(); });

/** A server on `port` that records each request and either drops its connection (`drop`: every
 * fetch that reaches the network fails as it does offline) or answers 503 (a server that is down
 * behind a proxy, a captive portal). */
async function unreachable(port, drop = true) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    if (drop) req.socket.destroy();
    else res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { requests, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

test('loaded once, the page reloads and stylises with no network', async () => {
  requireSamples('chelsea.png', 'flow_strokes.png');
  const cacheName = fs.readFileSync(path.join(DIST, 'sw.js'), 'utf8').match(/const VERSION = '([^']+)'/)[1];
  const samples = JSON.parse(fs.readFileSync(path.join(DIST, 'samples', 'index.json'), 'utf8'));
  srv = await serve();
  b = await browser();
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const manifest = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=manifest]');
    const m = await (await fetch(link.href)).json();
    const icon = await fetch(new URL(m.icons[0].src, link.href));
    return { name: m.short_name, display: m.display, icon: icon.ok && icon.headers.get('content-type') };
  });
  assert.deepEqual(manifest, { name: 'stylize', display: 'standalone', icon: 'image/svg+xml' });
  // The service worker has taken control and cached the shell and the samples. (Polled here:
  // waitForFunction takes the promise an async predicate returns for true at once.)
  const want = ['stylize_bg.wasm', 'samples/index.json', `samples/${samples.photos[0]}`, `samples/${samples.styles[0]}`];
  const cached = () => page.evaluate(async ({ cacheName, want }) => {
    if (!navigator.serviceWorker.controller || !(await caches.has(cacheName))) return false;
    const c = await caches.open(cacheName);
    return (await Promise.all(want.map((f) => c.match(f)))).every(Boolean);
  }, { cacheName, want });
  for (const t0 = Date.now(); !(await cached()); await page.waitForTimeout(500)) {
    assert.ok(Date.now() - t0 < 120_000, `the service worker controls the page and has ${want.join(', ')} in its cache ${cacheName}`);
  }
  await srv.close(); // no network from here on: the port answers nothing
  down = await unreachable(new URL(srv.url).port);
  const responses = [], failed = [];
  page.on('response', (r) => responses.push(r));
  page.on('requestfailed', (r) => failed.push(`${r.url()} (${r.failure()?.errorText})`));
  await page.reload().catch((e) => assert.fail(`the page did not load offline (the service worker did not serve it): ${e.message.split('\n')[0]}`));
  await ready(page);
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the reloaded page is controlled by the service worker');
  // Everything the page loaded came from the service worker; nothing from the network.
  const local = responses.filter((r) => r.url().startsWith(`${srv.url}/`));
  assert.deepEqual(local.filter((r) => !r.fromServiceWorker() || !r.ok()).map((r) => `${r.status()} ${r.url()}`), [], 'every response came from the service worker');
  const got = new Set(local.map((r) => r.url().slice(srv.url.length + 1)));
  for (const f of ['index.html', 'stylize.js', 'stylize_bg.wasm', 'samples/index.json', `samples/${samples.photos[0]}`, `samples/${samples.styles[0]}`]) {
    assert.ok(got.has(f), `${f} served by the service worker (served: ${[...got].join(', ')})`);
  }
  // (The weights come from their own cache; a request the page itself cancels is ERR_ABORTED.)
  assert.deepEqual(failed.filter((f) => !/\.safetensors\b|net::ERR_ABORTED/.test(f)), [], 'no request failed');
  console.log(`# offline: ${local.length} responses from the service worker; ${down.requests.length} network tries (network first) dropped unanswered`);
  assert.ok(await page.evaluate(() => window.__stylize.images.content && window.__stylize.images.style), 'the samples load offline');
  await page.$eval('#size', (el) => { el.value = 32; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.$eval('#iterations', (el) => { el.value = 2; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('#go');
  await page.waitForFunction(() => /^(Done|Stopped)/.test(document.getElementById('status').textContent), null, { timeout: 300_000 });
  assert.match(await page.textContent('#status'), /^Done after 2 iterations/);
  // A server that answers 503 for everything: the page still comes from the service worker's cache.
  await down.close();
  down = await unreachable(new URL(srv.url).port, false);
  responses.length = 0;
  await page.reload();
  await ready(page);
  const again = responses.filter((r) => r.url().startsWith(`${srv.url}/`));
  assert.deepEqual(again.filter((r) => !r.ok()).map((r) => `${r.status()} ${r.url()}`), [], 'with the server answering 503, every response is the cached copy');
  assert.ok(down.requests.length > 0 && again.some((r) => r.url().endsWith('stylize_bg.wasm')), `the 503 server was asked (${down.requests.length} requests) and the wasm still loaded`);
  assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
  await context.close();
});
