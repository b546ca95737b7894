// End-to-end tests of the web app in headless Chromium on its software WebGPU adapter
// (SwiftShader): tiny images (32 px) and a few iterations, since SwiftShader runs at ~0.4 GFLOP/s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { serve, browser, openPage, setValue, requireSamples, pngSize, status, ready, untilDone, download, recordCanvases, OUT, DIST } from './harness.mjs';

let srv, b;
before(async () => {
  requireSamples('chelsea.png', 'flow_strokes.png', 'mosaic.png'); // the page preselects chelsea and flow_strokes
  srv = await serve();
  b = await browser();
});
after(async () => { await b?.close(); await srv?.close(); });

async function small(page, iterations) {
  await setValue(page, '#size', 32);
  await setValue(page, '#iterations', iterations);
}
const iteration = (page) => page.evaluate(() => window.__stylize.st.job?.iteration ?? 0);

test('a run at 32 px: progress, falling loss, live preview, PNG download; no console errors, no external requests', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  assert.ok(await page.evaluate(() => window.__stylize.images.content && window.__stylize.images.style), 'sample images loaded');
  assert.match(await page.textContent('#memory'), /needs .* of GPU memory/);
  await small(page, 6);
  const blank = await page.locator('#preview').screenshot();
  const t0 = Date.now();
  await page.click('#go');
  await page.waitForFunction(() => document.getElementById('progress').value >= 1, null, { timeout: 120_000 });
  const mid = await page.locator('#preview').screenshot();
  await untilDone(page);
  const secs = (Date.now() - t0) / 1000;
  assert.equal(await page.$eval('#progress', (p) => p.value), 6);
  assert.match(await page.textContent('#progress-text'), /Iteration 6 \/ 6/);
  const history = await page.evaluate(() => window.__stylize.st.history);
  assert.ok(history.length >= 2, 'losses were read back');
  assert.equal(history[0].iteration, 0);
  assert.ok(history.at(-1).total < history[0].total, `loss falls: ${history[0].total} → ${history.at(-1).total}`);
  const done = await page.locator('#preview').screenshot();
  assert.notDeepEqual(done, blank, 'the preview canvas shows the image');
  assert.notDeepEqual(done, mid, 'the preview changes as the run progresses');
  const file = await download(page, 'stylized-32.png');
  assert.deepEqual(pngSize(fs.readFileSync(file)), { width: 32, height: 21 }, 'chelsea 451×300 → 32×21');
  await setValue(page, '#compare-pos', 50);
  await page.screenshot({ path: path.join(OUT, 'e2e-finished-run.png'), fullPage: true });
  console.log(`# e2e: 6 iterations at 32×21 in ${secs.toFixed(1)} s (${(secs / 6).toFixed(2)} s/iteration incl. readbacks); screenshot ${path.join(OUT, 'e2e-finished-run.png')}`);
  assert.deepEqual(log.errors, [], 'no console errors');
  assert.deepEqual(log.external, [], 'no request leaves 127.0.0.1');
  await context.close();
});

test('pause, resume and stop', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 200);
  await page.click('#go');
  await page.waitForFunction(() => (window.__stylize.st.job?.iteration ?? 0) >= 2, null, { timeout: 120_000 });
  await page.click('#pause');
  await page.waitForFunction(() => window.__stylize.st.state === 'paused');
  await page.waitForTimeout(1500);
  const i1 = await iteration(page);
  await page.waitForTimeout(3000);
  assert.equal(await iteration(page), i1, 'no progress while paused');
  assert.ok(await page.isEnabled('#resume'));
  await page.click('#resume');
  await page.waitForFunction((i) => window.__stylize.st.job.iteration > i, i1, { timeout: 120_000 });
  await page.click('#stop');
  await page.waitForFunction(() => /^Stopped after/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
  assert.ok(await page.isEnabled('#download'), 'the stopped image can be downloaded');
  assert.ok(await page.isEnabled('#go'), 'ready for another run');
  assert.deepEqual(log.errors, []);
  await context.close();
});

test('steering a live run: β raised mid-run applies from the next batch, the run goes on, the plot marks it', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 16);
  await page.click('#go');
  await page.waitForFunction(() => (window.__stylize.st.job?.iteration ?? 0) >= 3, null, { timeout: 120_000 });
  await setValue(page, '#strength', 3); // β 30 → 1000
  await page.waitForFunction(() => window.__stylize.st.steers.length === 1, null, { timeout: 10_000 });
  const refused = await page.evaluate(() => { try { window.__stylize.st.steer({ size: 64 }); return null; } catch (e) { return `${e.name}: ${e.message}`; } });
  assert.match(refused, /^Settings: `size` cannot change during a run/);
  await untilDone(page);
  const { history, steers, settings } = await page.evaluate(() => { const st = window.__stylize.st; return { history: st.history, steers: st.steers, settings: st.settings }; });
  assert.equal(steers.length, 1);
  assert.deepEqual(steers[0].changes, { style_weight: 1000 });
  assert.ok(steers[0].iteration >= 3 && steers[0].iteration < 16, `steered mid-run at ${steers[0].iteration}`);
  assert.equal(settings.style_weight, 1000, 'the run keeps the new β');
  assert.equal(await page.$eval('#progress', (p) => p.value), 16, 'the run was not restarted: 16 iterations in all');
  // Every loss read back is the weighting of its batch: the engine's total uses β = 30 before, 1000 after.
  for (const l of history) {
    const expect = l.content * settings.content_weight + l.style * l.style_weight + l.tv * settings.tv_weight;
    assert.ok(Math.abs(l.total - expect) <= 1e-3 * expect, `iteration ${l.iteration}: total ${l.total} = α·c + ${l.style_weight}·s + τ·tv = ${expect}`);
  }
  assert.ok(history.some((l) => l.style_weight === 30) && history.some((l) => l.style_weight === 1000), 'losses before and after the change');
  await page.locator('#lossplot').screenshot({ path: path.join(OUT, 'e2e-steered-plot.png') });
  await page.screenshot({ path: path.join(OUT, 'e2e-steered-run.png'), fullPage: true });
  assert.deepEqual(log.errors, []);
  await context.close();
});

/** The `stylize` iTXt record of a PNG (parsed here, independently of the engine), or null. */
function pngRecord(buf) {
  for (let at = 8; at + 12 <= buf.length;) {
    const len = buf.readUInt32BE(at), type = buf.toString('latin1', at + 4, at + 8);
    const body = buf.subarray(at + 8, at + 8 + len);
    if (type === 'iTXt' && body.toString('latin1', 0, 8) === 'stylize\0') return JSON.parse(body.subarray(12).toString('utf8'));
    at += 12 + len;
  }
  return null;
}

test('the downloaded PNG carries its settings; the same run gives the same pixels; dropping the PNG restores the settings', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 3);
  await setValue(page, '#seed', 7);
  await setValue(page, '#strength', 2);
  const runAndDownload = async (name) => {
    await page.click('#go');
    await untilDone(page);
    const file = await download(page, name);
    return fs.readFileSync(file);
  };
  const a = await runAndDownload('recorded-a.png');
  const rec = pngRecord(a);
  assert.ok(rec, 'the PNG carries a stylize record');
  assert.equal(rec.settings.seed, 7);
  assert.equal(rec.settings.style_weight, 100);
  assert.equal(rec.settings.size, 32);
  assert.equal(rec.content.name, 'chelsea.png');
  const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(DIST, 'samples', 'chelsea.png'))).digest('hex');
  assert.equal(rec.content.sha256, sha, "the photo's SHA-256");
  assert.match(rec.adapter, /conv path/);
  const again = await runAndDownload('recorded-b.png');
  assert.ok(a.equals(again), 'same inputs, settings and adapter: the same file, pixel for pixel');

  await page.$eval('#reset', (el) => el.click()); // in the closed Advanced panel
  assert.notEqual(await page.$eval('#seed', (el) => el.value), '7');
  const drop = async (bytes, name) => {
    const dt = await page.evaluateHandle(([b64, n]) => {
      const d = new DataTransfer();
      d.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], n, { type: 'image/png' }));
      return d;
    }, [bytes.toString('base64'), name]);
    await page.dispatchEvent('#preview', 'drop', { dataTransfer: dt });
  };
  await drop(a, 'recorded-a.png');
  await page.waitForFunction(() => /^Settings restored from recorded-a.png/.test(document.getElementById('status').textContent));
  assert.equal(await page.$eval('#seed', (el) => el.value), '7');
  assert.equal(await page.$eval('#size', (el) => el.value), '32');
  assert.equal(Number(await page.$eval('#strength', (el) => el.value)), 2);
  assert.match(await status(page), /the photo “chelsea.png” \(selected\)/);
  await page.screenshot({ path: path.join(OUT, 'e2e-settings-restored.png'), fullPage: true });
  const third = await runAndDownload('recorded-c.png');
  assert.ok(a.equals(third), 'the restored settings make the same pixels');
  // A PNG without a record: a clear error, the settings kept.
  await drop(fs.readFileSync(path.join(DIST, 'samples', 'chelsea.png')), 'chelsea.png');
  await page.waitForFunction(() => !document.getElementById('error').hidden);
  assert.match(await page.textContent('#error-text'), /chelsea.png carries no stylize settings/);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("colours: luminance transfer keeps the photo's colours, and the choice travels in the PNG", async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 4);
  await page.selectOption('#colors', 'luminance');
  await page.click('#go');
  await untilDone(page);
  // Mean |ΔI| + |ΔQ| (YIQ) between the result and the photo drawn at the result's size.
  const diff = await page.evaluate(async () => {
    const st = window.__stylize.st;
    const res = await st.image();
    const photo = window.__stylize.images.content;
    const src = new OffscreenCanvas(photo.width, photo.height);
    src.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(photo.data), photo.width, photo.height), 0, 0);
    const dst = new OffscreenCanvas(res.width, res.height);
    const ctx = dst.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(src, 0, 0, res.width, res.height);
    const p = ctx.getImageData(0, 0, res.width, res.height).data;
    const iq = (d, k) => [0.596 * d[k] - 0.274 * d[k + 1] - 0.322 * d[k + 2], 0.211 * d[k] - 0.523 * d[k + 1] + 0.312 * d[k + 2]];
    let sum = 0;
    for (let k = 0; k < p.length; k += 4) {
      const [a, b2] = [iq(res.data, k), iq(p, k)];
      sum += Math.abs(a[0] - b2[0]) + Math.abs(a[1] - b2[1]);
    }
    return sum / (p.length / 4);
  });
  console.log(`# e2e: luminance transfer: mean |ΔI| + |ΔQ| from the photo ${diff.toFixed(2)}`);
  assert.ok(diff < 6, `the photo's chroma (within resampling differences): ${diff}`);
  const file = await download(page, 'colours-luminance.png');
  assert.equal(pngRecord(fs.readFileSync(file)).settings.colors, 'luminance');
  await page.screenshot({ path: path.join(OUT, 'e2e-colours-luminance.png'), fullPage: true });
  assert.deepEqual(log.errors, []);
  await context.close();
});

test('a first visit: a status for people (software adapter: slow, small size), GPU details behind a disclosure; the painting-scale slider and its preview', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  assert.match(await status(page), /runs on the processor/, 'SwiftShader is a software adapter');
  assert.equal(await page.$eval('#size', (el) => el.value), '128', 'a practical size on a software adapter');
  assert.ok(await page.isVisible('#gpu-details'));
  assert.match(await page.$eval('#gpu-details pre', (el) => el.textContent), /^adapter: /);
  const preview = () => page.locator('#style-scale-preview').screenshot();
  const at1 = await preview();
  await setValue(page, '#style-scale', 0.5);
  assert.equal(await page.textContent('#style-scale-out'), '0.50×');
  const at05 = await preview();
  assert.notDeepEqual(at05, at1, 'the preview follows the scale');
  const s = await page.evaluate(() => window.__stylize.st.plan(window.__stylize.images.content, window.__stylize.images.style, { ...window.__stylize.defaults, size: 128, style_scale: 0.5 }));
  assert.equal(Math.max(s.styleWidth, s.styleHeight), 64, 'the engine takes the scale: a 64-px painting for a 128-px output');
  await page.screenshot({ path: path.join(OUT, 'e2e-first-visit.png'), fullPage: true });
  assert.deepEqual(log.errors, []);
  await context.close();
});

test('blending a second painting: added in the page, shares that sum to 100%, steered mid-run, named in the PNG', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 12);
  await page.setInputFiles('#add-painting', path.join(DIST, 'samples', 'mosaic.png'));
  await page.waitForSelector('.blend-row >> nth=1');
  const labels = () => page.$$eval('#blend-rows .share-label', (els) => els.map((e) => e.textContent));
  assert.deepEqual(await labels(), ['Painting 1: 50%', 'Painting 2: 50%']);
  const shares = page.locator('#blend-rows input[type=range][data-steer]');
  await shares.nth(1).evaluate((el) => { el.value = 0.25; el.dispatchEvent(new Event('input', { bubbles: true })); });
  assert.deepEqual(await labels(), ['Painting 1: 80%', 'Painting 2: 20%']);
  await page.click('#go');
  await page.waitForFunction(() => (window.__stylize.st.job?.iteration ?? 0) >= 2, null, { timeout: 120_000 });
  assert.deepEqual(await page.evaluate(() => window.__stylize.st.settings.style_blend), [0.8, 0.2]);
  await shares.nth(0).evaluate((el) => { el.value = 0.25; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.waitForFunction(() => window.__stylize.st.steers.length === 1, null, { timeout: 10_000 });
  const steer = await page.evaluate(() => window.__stylize.st.steers[0]);
  assert.deepEqual(steer.changes, { style_blend: [0.5, 0.5] }, 'the blend steered mid-run');
  await untilDone(page);
  assert.equal(await page.$eval('#progress', (p) => p.value), 12, 'not restarted');
  const file = await download(page, 'blended.png');
  const rec = pngRecord(fs.readFileSync(file));
  assert.deepEqual(rec.settings.style_blend, [0.5, 0.5]);
  assert.equal(rec.more_paintings[0].name, 'mosaic.png');
  await page.screenshot({ path: path.join(OUT, 'e2e-two-paintings.png'), fullPage: true });
  assert.deepEqual(log.errors, []);
  await context.close();
});

/** Waits until the photo's mask exists: the panel makes it when it opens, in its `toggle` event (a
 * task queued after the click), and draws the photo on the canvas at the mask's shape. */
const maskMade = (page) => page.waitForFunction(() => {
  const photo = window.__stylize.images.content, k = 512 / Math.max(photo.width, photo.height);
  return window.__canvases.some((c) => !c.isConnected && c.width === Math.round(photo.width * k) && c.height === Math.round(photo.height * k));
}, null, { timeout: 10_000 }).catch(() => {}); // not made: regionPixels says so

/** Pixels of each of the four region colours in the photo's painted mask (read off the mask canvas itself). */
const regionPixels = async (page) => {
  await maskMade(page);
  return page.evaluate(() => {
    const photo = window.__stylize.images.content, k = 512 / Math.max(photo.width, photo.height);
    const mask = window.__canvases.find((c) => !c.isConnected && c.width === Math.round(photo.width * k) && c.height === Math.round(photo.height * k));
    if (!mask) throw new Error("no canvas the size of the photo's mask");
    const d = mask.getContext('2d').getImageData(0, 0, mask.width, mask.height).data;
    const colors = [[230, 25, 75], [0, 110, 230], [50, 200, 40], [255, 225, 25]];
    const n = [0, 0, 0, 0];
    for (let i = 0; i < d.length; i += 4) {
      const k = colors.findIndex((c) => d[i + 3] >= 128 && Math.abs(c[0] - d[i]) + Math.abs(c[1] - d[i + 1]) + Math.abs(c[2] - d[i + 2]) < 60);
      if (k >= 0) n[k]++;
    }
    return n;
  });
};

test('regions: painting the photo with the mouse, one region keeping the photo, a style mask on the painting, and running', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`, { init: recordCanvases });
  await ready(page);
  await small(page, 3);
  await page.click('#regions-panel summary');
  await maskMade(page);
  const canvas = page.locator('#region-canvas');
  const box = await canvas.boundingBox();
  /** Paints strokes from x0 to x1 across the photo; returns how many. */
  const drag = async (x0, x1) => {
    let strokes = 0;
    for (let y = 0.15; y < 0.95; y += 0.2, strokes++) {
      await page.mouse.move(box.x + box.width * x0, box.y + box.height * y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * x1, box.y + box.height * y, { steps: 8 });
      await page.mouse.up();
    }
    return strokes;
  };
  assert.deepEqual(await regionPixels(page), [0, 0, 0, 0], 'nothing painted yet');
  await page.click('.swatch[data-region="0"]');
  await drag(0.05, 0.4); // red: painting 1
  await page.click('.swatch[data-region="1"]');
  const blueStrokes = await drag(0.6, 0.95); // blue: the photo
  await page.selectOption('#region-assign select[data-region="1"]', 'photo');
  const [red, blue] = await regionPixels(page);
  assert.ok(red > 0 && blue > 0, `the mask holds both painted colours: ${red} red, ${blue} blue pixels`);
  // Undo takes back one stroke at a time: the blue ones go, the red stay as they were.
  let left = blue;
  for (let i = 1; i <= blueStrokes; i++) {
    await page.click('#region-undo');
    const n = await regionPixels(page);
    assert.equal(n[0], red, `undo ${i}: the red strokes are unchanged`);
    assert.ok(n[1] < left, `undo ${i}: a blue stroke is gone (${left} → ${n[1]} blue pixels)`);
    left = n[1];
  }
  assert.equal(left, 0, 'every blue stroke undone');
  await drag(0.6, 0.95); // undone and painted again
  const again = await regionPixels(page);
  assert.deepEqual([again[0], again[1] > 0], [red, true], `painted again: ${again}`);
  await canvas.screenshot({ path: path.join(OUT, 'e2e-regions-brush.png') });
  // A style mask: the red region takes the painting's left part.
  await page.selectOption('#region-surface', '0');
  assert.match(await canvas.getAttribute('aria-label'), /Painting 1/);
  await page.click('.swatch[data-region="0"]');
  const pbox = await canvas.boundingBox();
  for (let y = 0.1; y < 1; y += 0.15) {
    await page.mouse.move(pbox.x + pbox.width * 0.05, pbox.y + pbox.height * y);
    await page.mouse.down();
    await page.mouse.move(pbox.x + pbox.width * 0.45, pbox.y + pbox.height * y, { steps: 8 });
    await page.mouse.up();
  }
  await canvas.screenshot({ path: path.join(OUT, 'e2e-style-mask-brush.png') });
  await page.click('#go');
  await untilDone(page);
  const settings = await page.evaluate(() => window.__stylize.st.settings);
  assert.deepEqual(settings.regions, [{ color: [230, 25, 75], painting: 0 }, { color: [0, 110, 230], painting: null }]);
  const masks = await page.evaluate(() => window.__stylize.st.inputs.styleMasks.map((m) => m && [m.width, m.height, m.name]));
  assert.equal(masks.length, 1);
  assert.equal(masks[0][2], 'painted regions of painting 1');
  const file = await download(page, 'regions.png');
  const rec = pngRecord(fs.readFileSync(file));
  assert.equal(rec.settings.regions.length, 2);
  assert.equal(rec.mask.name, 'painted regions');
  assert.equal(rec.style_masks[0].name, 'painted regions of painting 1');
  await page.screenshot({ path: path.join(OUT, 'e2e-regions.png'), fullPage: true });
  assert.deepEqual(log.errors, []);
  await context.close();
});

test('a corrupt image and a corrupt weights file give clear errors and keep the app usable', async () => {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const before = await page.evaluate(() => window.__stylize.images.content.width);
  await page.setInputFiles('#content-picker input[type=file]', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not really a jpeg') });
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error-text'), /Could not read "broken.jpg": it is not an image/);
  assert.equal(await page.evaluate(() => window.__stylize.images.content.width), before, 'the previous photo stays');
  assert.ok(await page.isEnabled('#go'));
  await page.click('#error-dismiss');

  await page.setInputFiles('#weights-file', { name: 'weights.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.alloc(4096, 7) });
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error-text'), /weights: not a valid safetensors file/);
  assert.match(await status(page), /kept the previous weights/);
  assert.ok(await page.isEnabled('#go'), 'still usable with the previous weights');
  await context.close();
});

test('device loss mid-run: the error offers to resume from the last image, and resuming finishes the run', async () => {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 8);
  await page.click('#go');
  await page.waitForFunction(() => window.__stylize.st.lastGood && window.__stylize.st.job.iteration >= 3, null, { timeout: 180_000 });
  await page.evaluate(() => window.__stylize.st.simulateDeviceLoss());
  await page.waitForSelector('#error:not([hidden])', { timeout: 120_000 });
  assert.match(await page.textContent('#error-text'), /device was lost/i);
  assert.match(await page.textContent('#error-fix'), /Resume from iteration \d+/);
  assert.ok(await page.isEnabled('#download'), 'the last good image can still be downloaded');
  await page.click('#error-fix');
  await untilDone(page);
  assert.equal(await iteration(page), 8);
  await context.close();
});

test('device loss during the first batch (no image kept yet): starting again on a new device finishes', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 3);
  await page.click('#go');
  await page.waitForFunction(() => window.__stylize.st.state === 'running', null, { timeout: 120_000 });
  const kept = await page.evaluate(() => { const st = window.__stylize.st; st.simulateDeviceLoss(); return st.lastGood; });
  assert.equal(kept, null, 'lost before any image was kept');
  await page.waitForSelector('#error:not([hidden])', { timeout: 120_000 });
  assert.match(await page.textContent('#error-text'), /device was lost/i);
  assert.match(await page.textContent('#error-fix'), /Start again on a new GPU device/);
  await page.click('#error-fix');
  await untilDone(page);
  assert.equal(await iteration(page), 3);
  assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
  await context.close();
});

test('a tab hidden and frozen mid-run resumes when visible and finishes without errors', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await small(page, 6);
  await page.click('#go');
  await page.waitForFunction(() => (window.__stylize.st.job?.iteration ?? 0) >= 2, null, { timeout: 180_000 });
  // What a browser does to a background tab: visibility 'hidden', then frozen (no JS runs).
  const hide = (state) => page.evaluate((state) => {
    Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
    Object.defineProperty(document, 'hidden', { value: state === 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await hide('hidden');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await new Promise((r) => setTimeout(r, 3000));
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  await hide('visible');
  await untilDone(page);
  assert.equal(await iteration(page), 6);
  assert.deepEqual(log.errors, [], 'no errors');
  await context.close();
});

test('the embed example runs <style-transfer> and fires its events', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/embed-example.html?size=32&iterations=4`);
  await page.waitForFunction(() => (window.__embedEvents || []).some((e) => e.type === 'done' || e.type === 'error'), null, { timeout: 300_000 });
  const events = await page.evaluate(() => window.__embedEvents);
  const err = events.find((e) => e.type === 'error');
  assert.equal(err, undefined, `no error: ${JSON.stringify(err)}`);
  assert.ok(events.filter((e) => e.type === 'progress').length >= 1, 'progress events');
  assert.ok(events.some((e) => e.type === 'losses'), 'losses events');
  const done = events.find((e) => e.type === 'done').detail;
  assert.deepEqual([done.width, done.height, done.iteration], [32, 21, 4]);
  assert.deepEqual(log.errors, []);
  assert.deepEqual(log.external, []);
  await context.close();
  // Two paintings blended and the photo's colours, from attributes.
  const second = await openPage(b, `${srv.url}/embed-example.html?size=32&iterations=3&paintings=2&colors=swap`);
  await second.page.waitForFunction(() => (window.__embedEvents || []).some((e) => e.type === 'done' || e.type === 'error'), null, { timeout: 300_000 });
  const ev2 = await second.page.evaluate(() => window.__embedEvents);
  assert.equal(ev2.find((e) => e.type === 'error'), undefined, JSON.stringify(ev2.find((e) => e.type === 'error')));
  const settings = await second.page.evaluate(() => document.querySelector('style-transfer').st.settings);
  assert.deepEqual([settings.colors, settings.style_blend.length], ['swap', 2]);
  assert.deepEqual(second.log.errors, []);
  await second.context.close();
});

test('without WebGPU the page explains what is needed instead of failing', async () => {
  const nogpu = await browser({ webgpu: false });
  try {
    const { page, log } = await openPage(nogpu, `${srv.url}/index.html`);
    await page.waitForFunction(() => /^(This browser|Ready|Not ready)/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    assert.match(await status(page), /cannot run stylize/);
    assert.match(await page.textContent('#error-text'), /WebGPU.*Chrome or Edge 113/);
    assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), [], 'no uncaught exception');
  } finally {
    await nogpu.close();
  }
});

test('coarse to fine: scale by scale with one progress bar and plot, then Continue larger; L-BFGS from the advanced panel', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await setValue(page, '#size', 64);
  await setValue(page, '#iterations', 2);
  await page.selectOption('#scales', '3');
  assert.match(await page.textContent('#memory'), /in 3 scales \(32 → 45 → 64 px\)/);
  const seen = new Set();
  await page.click('#go');
  for (;;) {
    const t = await page.textContent('#progress-text');
    const m = t.match(/Scale (\d) of 3 · (\d+) × (\d+) px/);
    if (m) seen.add(`${m[1]}:${m[2]}x${m[3]}`);
    if (/^(Done|Stopped)/.test(await status(page))) break;
    await page.waitForTimeout(200);
  }
  assert.match(await status(page), /^Done after 9 iterations/, 'scales of 4, 3 and 2 iterations');
  for (const s of ['2:45x30', '3:64x43']) assert.ok(seen.has(s), `the page said "Scale ${s}" (saw ${[...seen]})`);
  assert.equal(await page.$eval('#progress', (p) => p.value), 9);
  const history = await page.evaluate(() => window.__stylize.st.history);
  assert.deepEqual([...new Set(history.map((l) => l.scale))], [0, 1, 2], 'losses from every scale');
  assert.ok(history.every((l, i) => i === 0 || l.iteration >= history[i - 1].iteration), 'one iteration axis across scales');
  await page.screenshot({ path: path.join(OUT, 'e2e-coarse-to-fine.png'), fullPage: true });
  assert.deepEqual(pngSize(fs.readFileSync(await download(page, 'ctf-64.png'))), { width: 64, height: 43 });

  // Continue larger: the 64 px result becomes the first scale of an 80 px run (scales of 40 and
  // 57 px are skipped), with Adam (not the default L-BFGS) chosen in the advanced panel.
  await page.click('#advanced summary');
  assert.equal(await page.inputValue('#optimizer'), 'lbfgs', 'the default optimiser');
  await page.selectOption('#optimizer', 'adam');
  await setValue(page, '#size', 80);
  assert.equal(await page.textContent('#larger'), 'Continue larger (64 → 80 px)');
  await page.click('#larger');
  await page.waitForFunction(() => /^(Done|Stopped)/.test(document.getElementById('status').textContent) && !document.getElementById('go').disabled, null, { timeout: 300_000 });
  assert.match(await status(page), /^Done after 2 iterations/, `one scale of 2 iterations: ${await status(page)}`);
  const st = await page.evaluate(() => ({ settings: window.__stylize.st.settings, first: window.__stylize.st.history[0] }));
  assert.equal(st.settings.optimizer, 'adam');
  assert.deepEqual(pngSize(fs.readFileSync(await download(page, 'ctf-80.png'))), { width: 80, height: 53 });
  const fresh = history[0].total;
  assert.ok(st.first.total < 0.8 * fresh, `the larger run starts from the result, not the photo: ${st.first.total} vs ${fresh}`);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test('device loss at the second of three scales: resuming continues at that scale and finishes the run', async () => {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await setValue(page, '#size', 64);
  await setValue(page, '#iterations', 2);
  await page.selectOption('#scales', '3');
  await page.click('#go');
  await page.waitForFunction(() => window.__stylize.st.lastGood?.scale === 1 && window.__stylize.st.job.iteration >= 1, null, { timeout: 300_000 });
  const before = await page.evaluate(() => { const st = window.__stylize.st; st.simulateDeviceLoss(); return st.lastGood.runIteration; });
  assert.ok(before > 4, `lost during the second scale, after the first one's 4 iterations (${before})`);
  await page.waitForSelector('#error:not([hidden])', { timeout: 120_000 });
  assert.match(await page.textContent('#error-fix'), new RegExp(`Resume from iteration ${before}`));
  await page.click('#error-fix');
  let sawScale2 = false;
  for (;;) {
    if (/Scale 2 of 3 · 45 × 30 px/.test(await page.textContent('#progress-text'))) sawScale2 = true;
    if (/^(Done|Stopped)/.test(await status(page))) break;
    await page.waitForTimeout(200);
  }
  assert.ok(sawScale2, 'the resumed run continues at scale 2 of 3');
  assert.match(await status(page), /^Done after 9 iterations/);
  assert.match(await page.textContent('#progress-text'), /Scale 3 of 3 · 64 × 43 px · Iteration 9 \/ 9/);
  assert.deepEqual(pngSize(fs.readFileSync(await download(page, 'ctf-recovered.png'))), { width: 64, height: 43 });
  await context.close();
});
