// Shared e2e harness: a static server for dist/ on 127.0.0.1 that records every request, and
// Debian's Chromium driven by playwright-core with the software WebGPU adapter (SwiftShader).
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const DIST = path.join(ROOT, 'dist');
export const OUT = path.join(ROOT, 'test-output');
fs.mkdirSync(OUT, { recursive: true });

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg', '.safetensors': 'application/octet-stream',
  '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json' };

/** Serves dist/ (or `dir`) on 127.0.0.1 (random port), with `headers` on every response. Returns
 * {url, requests, close}. */
export async function serve(dir = DIST, { headers = {} } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    let p = path.join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (p.startsWith(dir) && fs.existsSync(p) && fs.statSync(p).isDirectory()) p = path.join(p, 'index.html');
    if (!p.startsWith(dir) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const body = fs.readFileSync(p);
    res.writeHead(200, { 'content-type': TYPES[path.extname(p)] || 'application/octet-stream', 'content-length': body.length, ...headers });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

/** Fails at once, naming the file, unless every sample image a test reads is in dist/samples. */
export function requireSamples(...names) {
  for (const name of names) {
    const file = path.join(DIST, 'samples', name);
    if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run tools/setup (it provisions the samples), then trunk build`);
  }
}

export const FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--no-first-run', '--disable-default-apps',
  // window.gc() and exact heap sizes for the many-runs measurement.
  '--js-flags=--expose-gc', '--enable-precise-memory-info'];

/** Launches Chromium (WebGPU on unless webgpu=false). */
export async function browser({ webgpu = true } = {}) {
  // playwright gives every launch a fresh temporary profile (user data dir).
  const args = [...FLAGS];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
}

/** A page that records console errors, page errors and requests leaving 127.0.0.1; `init` (a
 * function) runs in it before the page's own scripts. */
export async function openPage(b, url, { init } = {}) {
  const context = await b.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  const log = { errors: [], external: [], console: [] };
  page.on('console', (m) => {
    log.console.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') log.errors.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.hostname !== '127.0.0.1') log.external.push(r.url());
  });
  await page.goto(url);
  return { page, log, context };
}

/** Sets a range/number input's value and fires `input`. */
export async function setValue(page, selector, value) {
  await page.$eval(selector, (el, v) => { el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); }, String(value));
}

/** Reads PNG width/height from its IHDR; throws if the signature is wrong. */
export function pngSize(buf) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (!sig.every((b, i) => buf[i] === b)) throw new Error('not a PNG');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** The page's status line. */
export const status = (page) => page.textContent('#status');
/** Waits until the app is ready (or says why not) and asserts Ready. */
export async function ready(page) {
  await page.waitForFunction(() => /^(Ready|Not ready|This browser)/.test(document.getElementById('status').textContent), null, { timeout: 180_000 });
  assert.match(await status(page), /^Ready/, `app ready (error: ${await page.textContent('#error-text')})`);
}

/** Waits until the run's status says Done. */
export const untilDone = (page) => page.waitForFunction(() => /^Done/.test(document.getElementById('status').textContent), null, { timeout: 300_000 });

/** Clicks Download PNG and saves the file as OUT/name; returns its path. */
export async function download(page, name) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const file = path.join(OUT, name);
  await dl.saveAs(file);
  return file;
}

/** Records the canvases the page makes with createElement (the region masks are such canvases, off the document). */
export function recordCanvases() {
  const made = (window.__canvases = []);
  const create = Document.prototype.createElement;
  Document.prototype.createElement = function (tag, ...rest) {
    const el = create.call(this, tag, ...rest);
    if (String(tag).toLowerCase() === 'canvas') made.push(el);
    return el;
  };
}
