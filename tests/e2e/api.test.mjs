// The JS API and the <style-transfer> element in headless Chromium (software WebGPU): start
// failures fire 'error', replaced and removed sessions are freed, attribute changes restart an
// autostarting element, its error event stays on the element, two elements on a page both finish,
// the profile's peak memory counts the painting's own size, and a truncated JPEG is refused with
// the CLI's message. Tiny images and a few iterations (SwiftShader is slow).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serve, browser, openPage, requireSamples, DIST, ready } from './harness.mjs';

// Only samples that every machine has after tools/setup (not the public-domain paintings that come
// from ../shared where it exists).
const PHOTO = 'chelsea.png', PAINTING = 'flow_strokes.png';
let srv, b, page, log, context;
before(async () => {
  requireSamples(PHOTO, PAINTING, 'rocket.jpg');
  srv = await serve();
  b = await browser();
  ({ page, log, context } = await openPage(b, `${srv.url}/index.html`));
  await ready(page);
  await page.evaluate(async () => { window.api = await import('./stylize-api.js'); await import('./style-transfer.js'); });
});
after(async () => { await context?.close(); await b?.close(); await srv?.close(); });

const tiny = { size: 32, iterations: 2 };

test('run() fires the documented error event when the session cannot start', async () => {
  const got = await page.evaluate(async () => {
    const st = window.__stylize.st.sibling();
    const { content, style } = window.__stylize.images;
    const out = [];
    st.addEventListener('error', (e) => out.push(`event ${e.detail.name}`));
    const saved = st.memoryBudget;
    st.memoryBudget = 256 * 2 ** 20; // 4096 px does not fit 256 MiB even in tiles
    try {
      for (const settings of [{ size: 4096 }, { size: 5 }]) {
        await st.run({ content, style, settings }).catch((e) => out.push(`rejected ${e.name}`));
      }
    } finally {
      st.memoryBudget = saved;
    }
    return out;
  });
  assert.deepEqual(got, ['event TooLarge', 'rejected TooLarge', 'event Settings', 'rejected Settings']);
});

test('a replaced session is freed, and dispose() frees the last one', async () => {
  const counts = await page.evaluate(async (tiny) => {
    const st = window.__stylize.st.sibling();
    const { content, style } = window.__stylize.images;
    const base = window.api.liveSessionCount();
    const out = [];
    await st.run({ content, style, settings: tiny });
    out.push(window.api.liveSessionCount() - base);
    await st.run({ content, style, settings: tiny });
    out.push(window.api.liveSessionCount() - base);
    st.dispose();
    out.push(window.api.liveSessionCount() - base);
    out.push((await st.image()).width); // the last good image survives
    return out;
  }, tiny);
  assert.deepEqual(counts, [1, 1, 0, 32]);
});

test("the profile's peak memory is the plan's, with the painting at its own size", async () => {
  const r = await page.evaluate(async () => {
    const st = window.__stylize.st.sibling();
    const { content } = window.__stylize.images;
    const style = { data: new Uint8Array(30 * 40 * 4).fill(140), width: 30, height: 40 }; // portrait, unlike the photo
    const settings = { size: 32, iterations: 1 };
    await st.run({ content, style, settings });
    const plan = st.plan(content, style, { ...window.api.StyleTransfer.defaults(), ...settings });
    const prof = await st.job.profile();
    st.dispose();
    return { plan: plan.peakBytes, profile: prof?.peakBytes ?? null, styleW: plan.styleWidth, styleH: plan.styleHeight };
  });
  assert.deepEqual([r.styleW, r.styleH], [24, 32]);
  assert.notEqual(r.profile, null, 'SwiftShader has timestamp queries');
  assert.equal(r.profile, r.plan);
});

test('a truncated JPEG is refused with the same message as the CLI', async () => {
  const msg = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('samples/rocket.jpg')).arrayBuffer());
    const cut = new File([bytes.slice(0, Math.floor(bytes.length * 2 / 3))], 'cut.jpg', { type: 'image/jpeg' });
    return window.api.decodeImage(cut).then(() => 'decoded', (e) => `${e.name}: ${e.message}`);
  });
  assert.equal(msg, 'Image: image: cut.jpg is truncated: its JPEG data ends before the end-of-image marker (the file was cut off; download or copy it again)');
});

/** Adds a <style-transfer> with the given attributes and records its events. */
async function addElement(id, attrs) {
  await page.evaluate(({ id, attrs, PHOTO, PAINTING }) => {
    const el = document.createElement('style-transfer');
    el.id = id;
    const samples = { 'content-src': `samples/${PHOTO}`, 'style-src': `samples/${PAINTING}`, size: '32', iterations: '2' };
    for (const [k, v] of Object.entries({ ...samples, ...attrs })) if (v !== null) el.setAttribute(k, v);
    el.events = [];
    for (const t of ['progress', 'done', 'error']) el.addEventListener(t, (e) => el.events.push({ type: t, bubbles: e.bubbles, detail: t === 'error' ? e.detail.name : e.detail, ...(t === 'error' ? { message: e.detail.message } : {}) }));
    document.body.append(el);
  }, { id, attrs, PHOTO, PAINTING });
}
const events = (id, type) => page.evaluate(({ id, type }) => document.getElementById(id).events.filter((e) => e.type === type), { id, type });
/** Waits until each element has fired `count` events of `type`; an 'error' from any of them ends
 * the wait at once and fails with that error's name and message. */
async function until(ids, type, count = 1, timeout = 300_000) {
  await page.waitForFunction(({ ids, type, count }) => ids.some((id) => document.getElementById(id).events.some((e) => e.type === 'error'))
    || ids.every((id) => document.getElementById(id).events.filter((e) => e.type === type).length >= count), { ids, type, count }, { timeout });
  for (const id of ids) {
    const err = (await events(id, 'error'))[0];
    const src = await page.evaluate((id) => ['content-src', 'style-src'].map((a) => `${a}="${document.getElementById(id).getAttribute(a)}"`).join(' '), id);
    if (err) assert.fail(`<style-transfer id="${id}" ${src}> fired 'error' waiting for ${type}: ${err.detail}: ${err.message}`);
  }
}

test('two elements on one page both finish; attribute changes restart an autostarting element', async () => {
  await addElement('one', { autostart: '' });
  await addElement('two', { autostart: '', iterations: '3' });
  await until(['one', 'two'], 'done');
  assert.deepEqual((await events('one', 'done')).map((e) => e.detail.iteration), [2]);
  assert.deepEqual((await events('two', 'done')).map((e) => e.detail.iteration), [3]);
  await page.evaluate(() => document.getElementById('one').setAttribute('iterations', '1'));
  await until(['one'], 'done', 2);
  assert.deepEqual((await events('one', 'done')).map((e) => e.detail.iteration), [2, 1], 'the restarted run uses the new attribute');
  await page.evaluate(() => { document.getElementById('one').remove(); document.getElementById('two').remove(); });
});

test('an element with a region mask, its regions and a style mask runs them; a bad regions attribute is a Settings error', async () => {
  // The masks are drawn in the page and served beside it (the page's CSP fetches only its own origin).
  const pngs = await page.evaluate(async () => {
    const png = async (w, h, paint) => {
      const c = new OffscreenCanvas(w, h);
      paint(c.getContext('2d'), w, h);
      return [...new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer())];
    };
    const mask = await png(60, 40, (g, w, h) => { g.fillStyle = '#ff0000'; g.fillRect(0, 0, w / 2, h); g.fillStyle = '#0000ff'; g.fillRect(w / 2, 0, w / 2, h); });
    const styleMask = await png(60, 40, (g, w, h) => { g.fillStyle = '#000'; g.fillRect(0, 0, w, h); g.fillStyle = '#ff0000'; g.fillRect(0, 0, w, h / 2); });
    return { mask, styleMask };
  });
  fs.mkdirSync(path.join(DIST, 'e2e-masks'), { recursive: true });
  const urls = {};
  for (const [k, bytes] of Object.entries(pngs)) {
    fs.writeFileSync(path.join(DIST, 'e2e-masks', `${k}.png`), Buffer.from(bytes));
    urls[k] = `e2e-masks/${k}.png`;
  }
  await addElement('regions', { autostart: '', 'mask-src': urls.mask, regions: '#ff0000=1 #00f=photo', 'style-mask-src': urls.styleMask });
  await until(['regions'], 'done');
  assert.deepEqual((await events('regions', 'error')), []);
  assert.deepEqual((await events('regions', 'done')).map((e) => e.detail.iteration), [2]);
  const got = await page.evaluate(() => { const st = document.getElementById('regions').st; return { regions: st.settings.regions, masks: st.inputs.styleMasks.map((m) => m && [m.width, m.height]), mask: [st.inputs.mask.width, st.inputs.mask.height] }; });
  assert.deepEqual(got, { regions: [{ color: [255, 0, 0], painting: 0 }, { color: [0, 0, 255], painting: null }], masks: [[60, 40]], mask: [60, 40] });
  await addElement('bad-regions', { 'mask-src': urls.mask, regions: 'red=1' });
  const err = await page.evaluate(() => document.getElementById('bad-regions').start().then(() => null, (e) => [e.name, e.message]));
  assert.equal(err[0], 'Settings');
  assert.match(err[1], /red=1/);
  await page.evaluate(() => { document.getElementById('regions').remove(); document.getElementById('bad-regions').remove(); });
});

test('an element removed mid-run stops within one batch and frees its session', async () => {
  const base = await page.evaluate(() => window.api.liveSessionCount());
  await addElement('gone', { autostart: '', iterations: '500' });
  await until(['gone'], 'progress');
  const at = await page.evaluate(() => { const el = document.getElementById('gone'); const it = el.st.job.iteration; window.__gone = el; el.remove(); return it; });
  await page.waitForFunction(() => window.__gone.st.state !== 'running', null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => window.__gone.st.state), 'done', await page.evaluate(() => window.__gone.message.textContent));
  assert.equal(await page.evaluate(() => window.api.liveSessionCount()), base, 'its session is freed');
  const final = await page.evaluate(() => window.__gone.st.lastGood.iteration);
  assert.ok(final <= at + 20, `stopped within one batch (≤ 20 iterations): removed at ${at}, stopped at ${final}`);
});

test("the element's error event stays on the element (no window-level error)", async () => {
  const r = await page.evaluate(async (PAINTING) => {
    const seen = [];
    window.addEventListener('error', () => seen.push('window error'));
    const el = document.createElement('style-transfer');
    el.setAttribute('content-src', 'samples/no-such-photo.png');
    el.setAttribute('style-src', `samples/${PAINTING}`);
    const err = new Promise((res) => el.addEventListener('error', (e) => res({ name: e.detail.name, bubbles: e.bubbles, composed: e.composed })));
    document.body.append(el);
    el.start().catch(() => {});
    const got = await err;
    await new Promise((res) => setTimeout(res, 200));
    el.remove();
    return { ...got, seen };
  }, PAINTING);
  assert.deepEqual(r, { name: 'Image', bubbles: false, composed: false, seen: [] });
  assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
});

test('a kernel that fails to compile on the GPU falls back instead of failing the run', async () => {
  // Tiled kernels forced, with the tiled Gram partials made uncompilable: the run warns, falls
  // back (Winograd → the direct GEMM, then tiled → direct kernels) on a new device each time,
  // says so under the status, and finishes.
  const { page: p, log: l, context: c } = await openPage(b, `${srv.url}/index.html?conv=tiled&break=gram_partial`);
  try {
    await ready(p);
    await p.$eval('#size', (el) => { el.value = 32; el.dispatchEvent(new Event('input', { bubbles: true })); });
    await p.$eval('#iterations', (el) => { el.value = 2; el.dispatchEvent(new Event('input', { bubbles: true })); });
    await p.click('#go');
    await p.waitForFunction(() => /^(Done|Stopped)/.test(document.getElementById('status').textContent), null, { timeout: 300_000 });
    assert.match(await p.textContent('#status'), /^Done after 2 iterations/);
    assert.match(await p.textContent('#gpu-note'), /tiled\+gemm kernels with f32 storage failed on this GPU; using direct\+gemm kernels with f32 storage/);
    assert.ok(l.console.some((m) => m.startsWith('warning: stylize: tiled+winograd kernels with f32 storage failed')), 'a console warning');
    assert.deepEqual(await p.evaluate(() => window.__stylize.st.variant), { conv: 'direct+gemm', precision: 'f32' });
  } finally {
    await c.close();
  }
});

test("resample_moments carries Adam's moments into the next scale in the browser too", async () => {
  // Two scales of Adam: the same run twice gives the same pixels; carrying the moments (the
  // setting on) gives other pixels at the second scale. Before Job.leave/advance the browser
  // ignored the setting, and all three were equal.
  const sums = await page.evaluate(async () => {
    const st = window.__stylize.st.sibling();
    const { content, style } = window.__stylize.images;
    const out = [];
    for (const resample_moments of [false, false, true]) {
      await st.run({ content, style, settings: { size: 40, scales: 2, iterations: 3, optimizer: 'adam', resample_moments } });
      const img = await st.image();
      out.push({ width: img.width, sum: img.data.reduce((a, v, i) => a + v * ((i % 97) + 1), 0) });
    }
    st.dispose();
    return out;
  });
  assert.equal(sums[0].width, 40);
  assert.equal(sums[0].sum, sums[1].sum, 'the same run gives the same pixels');
  assert.notEqual(sums[2].sum, sums[0].sum, 'carrying the moments changes the second scale');
});

test('twenty runs one after another: live sessions, their GPU bytes and the JS heap stay flat', async () => {
  const rows = await page.evaluate(async () => {
    const st = window.__stylize.st.sibling();
    const { content, style } = window.__stylize.images;
    const rows = [{ run: 'before', live: window.api.liveSessionCount(), gpuBytes: window.api.liveSessionGpuBytes() }];
    for (let i = 0; i < 20; i++) {
      const settings = { size: [32, 40, 48, 36][i % 4], iterations: i % 3 === 2 ? 40 : 1 };
      const run = st.run({ content, style, settings });
      if (i % 3 === 2) { // stopped mid-run
        await new Promise((r) => { const f = () => { st.removeEventListener('progress', f); r(); }; st.addEventListener('progress', f); });
        st.stop();
      }
      const r = await run;
      window.gc?.();
      rows.push({ run: i + 1, size: settings.size, iterations: r.iteration, stopped: r.stopped, live: window.api.liveSessionCount(),
        gpuBytes: window.api.liveSessionGpuBytes(), heap: performance.memory?.usedJSHeapSize ?? null });
    }
    st.dispose();
    window.gc?.();
    rows.push({ run: 'after dispose', live: window.api.liveSessionCount(), gpuBytes: window.api.liveSessionGpuBytes(), heap: performance.memory?.usedJSHeapSize ?? null });
    return rows;
  });
  console.log(`# twenty runs: ${JSON.stringify(rows)}`);
  const [before, runs, after] = [rows[0], rows.slice(1, 21), rows[21]];
  for (const r of runs) assert.equal(r.live, before.live + 1, `run ${r.run}: exactly its own session is alive`);
  assert.ok(runs.some((r) => r.stopped) && runs.some((r) => !r.stopped), 'stopped and finished runs');
  // A run's bytes depend only on its size: the same size holds the same bytes every time.
  for (const r of runs) assert.equal(r.gpuBytes, runs[(r.run - 1) % 4].gpuBytes, `run ${r.run}: no bytes left over from earlier runs`);
  assert.deepEqual([after.live, after.gpuBytes], [before.live, before.gpuBytes], 'dispose() releases the last session');
  const heaps = runs.map((r) => r.heap).filter((h) => h != null);
  if (heaps.length === 20) {
    const growth = heaps[19] - heaps[4];
    assert.ok(growth < 16 * 2 ** 20, `JS heap flat from run 5 to run 20 (grew ${(growth / 2 ** 20).toFixed(1)} MiB)`);
  }
});

test('a budget that the whole image exceeds runs in tiles and downloads a full-size PNG', async () => {
  const r = await page.evaluate(async () => {
    const st = window.__stylize.st.sibling();
    const { content, style } = window.__stylize.images;
    // relu1_1 and relu2_1 only (16-px halos), so tiles save memory at a size SwiftShader runs quickly
    // (at 96 px the whole image's peak is already below 64-px tiles': the targets' buffers are
    // released before the iteration's are made).
    const settings = { size: 128, iterations: 2, scales: 1, content_weight: 0, style_layer_weights: [1, 1, 0, 0, 0] };
    const all = { ...window.api.StyleTransfer.defaults(), ...settings };
    const saved = st.memoryBudget;
    try {
      st.memoryBudget = 1e15;
      const whole = st.plan(content, style, all);
      const tiled = st.plan(content, style, { ...all, tile_size: 64 });
      st.memoryBudget = Math.floor((whole.peakBytes + tiled.peakBytes) / 2);
      const plan = st.plan(content, style, all);
      let seen = 0;
      st.addEventListener('progress', (e) => { seen = e.detail.tiles; });
      await st.run({ content, style, settings });
      const blob = await window.api.rgbaToPng(await st.image());
      const bmp = await createImageBitmap(blob);
      return { whole: whole.tiles, tiles: plan.tiles, fits: plan.fits, seen, size: [bmp.width, bmp.height], want: [plan.width, plan.height], type: blob.type, under: plan.peakBytes <= st.memoryBudget };
    } finally {
      st.memoryBudget = saved;
      st.dispose();
    }
  });
  assert.equal(r.whole, 0, 'the whole image runs untiled without a budget');
  assert.ok(r.fits && r.tiles > 1 && r.under, `the budget picks tiles: ${JSON.stringify(r)}`);
  assert.equal(r.seen, r.tiles, 'progress reports the tiles');
  assert.deepEqual(r.size, r.want, 'the PNG has the full size');
  assert.equal(r.type, 'image/png');
});
