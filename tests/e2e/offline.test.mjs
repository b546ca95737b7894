// Offline and installable: a page loaded once is reloaded with its server gone (no network at all)
// and still stylises — the service worker serves the page, the wasm and the samples, and the
// weights come from their own cache. The web app manifest and its icon are served. Headless
// Chromium (software WebGPU), its own server so that it can be shut down.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, browser, openPage } from './harness.mjs';

let b;
after(async () => { await b?.close(); });

test('loaded once, the page reloads and stylises with no network', async () => {
  const srv = await serve();
  b = await browser();
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  const ready = async () => {
    await page.waitForFunction(() => /^(Ready|Not ready)/.test(document.getElementById('status').textContent), null, { timeout: 180_000 });
    assert.match(await page.textContent('#status'), /^Ready/, await page.textContent('#error-text'));
  };
  await ready();
  const manifest = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=manifest]');
    const m = await (await fetch(link.href)).json();
    const icon = await fetch(new URL(m.icons[0].src, link.href));
    return { name: m.short_name, display: m.display, icon: icon.ok && icon.headers.get('content-type') };
  });
  assert.deepEqual(manifest, { name: 'stylize', display: 'standalone', icon: 'image/svg+xml' });
  // The service worker has taken control and cached the shell and the samples.
  await page.waitForFunction(async () => {
    await navigator.serviceWorker.ready;
    const c = await caches.open('stylize-app-v3');
    return !!navigator.serviceWorker.controller && !!(await c.match('stylize_bg.wasm')) && !!(await c.match('samples/index.json'));
  }, null, { timeout: 120_000, polling: 500 });
  const served = srv.requests.length;
  await srv.close(); // no network from here on
  await page.reload();
  await ready();
  assert.equal(srv.requests.length, served, 'nothing reached the (closed) server');
  assert.ok(await page.evaluate(() => window.__stylize.images.content && window.__stylize.images.style), 'the samples load offline');
  await page.$eval('#size', (el) => { el.value = 32; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.$eval('#iterations', (el) => { el.value = 2; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('#go');
  await page.waitForFunction(() => /^(Done|Stopped)/.test(document.getElementById('status').textContent), null, { timeout: 300_000 });
  assert.match(await page.textContent('#status'), /^Done after 2 iterations/);
  assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
  await context.close();
});
