// A video through the page, as a person uses it: a 4-frame 32 px clip (a texture panning, made
// in the page with WebCodecs) is chosen instead of a photo, stylised frame by frame (the strip
// fills, progress names the frame), downloaded as a video file and decoded back (its frame count
// and size), with no console error; then the same with the encoder taken away, where the download
// is a ZIP of PNG frames. Headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { serve, browser, openPage, setValue, pngSize, ready, untilDone, requireSamples, OUT } from './harness.mjs';

let srv, b, clip;
before(async () => {
  requireSamples('chelsea.png', 'flow_strokes.png');
  srv = await serve();
  b = await browser();
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  clip = await makeClip(page);
  await context.close();
});
after(async () => { await b?.close(); await srv?.close(); });

/** A 4-frame, 4 fps, 32×32 clip of a texture moving 2 px right and 1 px down per frame. */
async function makeClip(page) {
  const bytes = await page.evaluate(async () => {
    const api = await import('./stylize-api.js');
    const frames = [];
    for (let k = 0; k < 4; k++) {
      const data = new Uint8Array(32 * 32 * 4);
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const u = x - 2 * k;
          const w = y - k;
          const i = 4 * (y * 32 + x);
          data[i] = 128 + 100 * Math.sin(u * 0.5) * Math.cos(w * 0.3);
          data[i + 1] = 128 + 90 * Math.sin((u + w) * 0.35);
          data[i + 2] = 128 + 80 * Math.cos(u * 0.2 - w * 0.45);
          data[i + 3] = 255;
        }
      }
      frames.push({ data, width: 32, height: 32 });
    }
    const blob = await api.encodeVideo(frames, { fps: 4 });
    return { type: blob.type, bytes: [...new Uint8Array(await blob.arrayBuffer())] };
  });
  return { ...bytes, buffer: Buffer.from(bytes.bytes) };
}

/** Chooses the clip in the photo picker, sets a small run and stylises it; resolves when done. */
async function stylizeClip(page) {
  const ext = clip.type === 'video/mp4' ? 'mp4' : 'webm';
  await page.setInputFiles('#content-picker input[type=file]', { name: `pan.${ext}`, mimeType: clip.type, buffer: clip.buffer });
  await page.waitForFunction(() => !document.getElementById('video-panel').hidden);
  await setValue(page, '#video-fps', 4);
  await setValue(page, '#video-start', 0);
  await setValue(page, '#video-end', 1);
  assert.match(await page.textContent('#video-info'), /→ 4 frames/);
  await setValue(page, '#size', 32);
  await setValue(page, '#iterations', 8);
  await setValue(page, '#video-frame-iterations', 4);
  const progress = [];
  await page.exposeFunction('__progress', (t) => progress.push(t));
  await page.evaluate(() => new MutationObserver(() => window.__progress(document.getElementById('progress-text').textContent))
    .observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true }));
  await page.click('#go');
  await untilDone(page);
  return progress;
}

test('a clip stylised in the page, downloaded as a video that decodes back to its frames', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  assert.ok(clip.buffer.length > 100, 'the test clip was encoded');
  const progress = await stylizeClip(page);
  assert.match(await page.textContent('#status'), /^Done after 4 frames, \d+ iterations/);
  assert.ok(progress.some((t) => /^Frame 1 of 4 .*ETA clip/.test(t)) && progress.some((t) => /^Frame 4 of 4/.test(t)), `progress names the frame (${progress.at(-1)})`);
  assert.equal(await page.locator('#frame-strip canvas').count(), 4, 'the strip shows the 4 finished frames');
  const frames = await page.evaluate(() => window.__stylize.st.frames.map((f) => ({ width: f.width, height: f.height, temporalError: f.temporalError, reliable: f.reliable })));
  assert.equal(frames.length, 4);
  assert.equal(frames[0].temporalError, null, 'the first frame has nothing to agree with');
  for (const f of frames.slice(1)) {
    assert.ok(Number.isFinite(f.temporalError) && f.temporalError >= 0, `a later frame's temporal error is measured (${f.temporalError})`);
    assert.ok(f.reliable > 0.5, `most of a panning frame is reliable (${f.reliable})`);
  }
  assert.deepEqual([frames[0].width, frames[0].height], [32, 32]);
  // Download video: a file this browser plays, with 4 frames of 32×32.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-video')]);
  const file = path.join(OUT, dl.suggestedFilename());
  await dl.saveAs(file);
  assert.match(dl.suggestedFilename(), /^pan-stylized\.(webm|mp4)$/);
  const bytes = [...fs.readFileSync(file)];
  const probe = await page.evaluate(async (bytes) => {
    const api = await import('./stylize-api.js');
    return api.probeVideo(new Blob([new Uint8Array(bytes)]));
  }, bytes);
  assert.equal(probe.frames, 4, `4 frames decoded back (${JSON.stringify(probe)})`);
  assert.deepEqual([probe.width, probe.height], [32, 32]);
  // And the page's own <video> element plays it (what a person downloading it gets).
  const played = await page.evaluate(async (bytes) => {
    const v = document.createElement('video');
    v.muted = true;
    v.src = URL.createObjectURL(new Blob([new Uint8Array(bytes)]));
    await new Promise((ok, fail) => { v.onloadeddata = ok; v.onerror = () => fail(new Error(v.error?.message)); });
    return { width: v.videoWidth, height: v.videoHeight };
  }, bytes);
  assert.deepEqual(played, { width: 32, height: 32 });
  assert.deepEqual(log.errors, [], 'no console errors');
  assert.deepEqual(log.external, [], 'no request leaves the machine');
  await context.close();
});

test('without a video encoder the download is a ZIP of the PNG frames', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`, { init: () => { delete window.VideoEncoder; } });
  await ready(page);
  await stylizeClip(page);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-video')]);
  assert.equal(dl.suggestedFilename(), 'pan-stylized-frames.zip');
  const file = path.join(OUT, 'pan-stylized-frames.zip');
  await dl.saveAs(file);
  await page.waitForFunction(() => /^This browser cannot encode video.*Downloaded 4 frames/.test(document.getElementById('status').textContent));
  const entries = unzipSync(fs.readFileSync(file));
  assert.deepEqual(Object.keys(entries).sort(), ['frame-0001.png', 'frame-0002.png', 'frame-0003.png', 'frame-0004.png']);
  for (const png of Object.values(entries)) assert.deepEqual(pngSize(Buffer.from(png)), { width: 32, height: 32 });
  assert.deepEqual(log.errors, [], 'no console errors');
  await context.close();
});

test('<style-transfer video-src> stylises the clip, fires frame events and gives the video back', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const got = await page.evaluate(async ({ bytes, type }) => {
    const api = await import('./stylize-api.js');
    await import('./style-transfer.js');
    const el = document.createElement('style-transfer');
    const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
    for (const [k, v] of Object.entries({ 'video-src': url, fps: '4', 'style-src': 'samples/flow_strokes.png', size: '32', iterations: '4', scales: '1', 'frame-iterations': '3' })) el.setAttribute(k, v);
    const frames = [];
    el.addEventListener('frame', (e) => frames.push([e.detail.frame, e.detail.frames, e.detail.image.width, e.detail.temporalError]));
    document.body.append(el);
    const r = await el.start();
    const probe = await api.probeVideo(await el.videoBlob());
    return { r, frames, probe };
  }, { bytes: [...clip.buffer], type: clip.type });
  assert.equal(got.r.frames, 4);
  assert.deepEqual(got.frames.map((f) => f.slice(0, 3)), [[0, 4, 32], [1, 4, 32], [2, 4, 32], [3, 4, 32]]);
  assert.equal(got.frames[0][3], null);
  assert.ok(got.frames.slice(1).every((f) => Number.isFinite(f[3])), 'later frames report their temporal error');
  assert.deepEqual([got.probe.frames, got.probe.width, got.probe.height], [4, 32, 32]);
  assert.deepEqual(log.errors, [], 'no console errors');
  await context.close();
});

test('steering a video: a change made during a later frame applies to it and to the frames after', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const got = await page.evaluate(async () => {
    const api = await import('./stylize-api.js');
    const st = window.__stylize.st.sibling();
    const frame = (k) => {
      const data = new Uint8Array(32 * 32 * 4);
      for (let i = 0; i < 32 * 32; i++) data.set([(i * 7 + k * 13) & 255, (i >> 3) & 255, 128, 255], 4 * i);
      return { data, width: 32, height: 32 };
    };
    const style = await api.decodeImage('samples/flow_strokes.png');
    const steers = [];
    let steered = null;
    st.addEventListener('progress', (e) => {
      if (e.detail.frame === 1 && !steered) {
        try { st.steer({ style_weight: 100 }); steered = 'ok'; } catch (err) { steered = `${err.name}: ${err.message}`; }
      }
    });
    st.addEventListener('steer', (e) => steers.push(e.detail.changes));
    const r = await st.run({ video: [frame(0), frame(1), frame(2)], style, settings: { size: 32, iterations: 4, scales: 1 }, frameIterations: 6 });
    const weights = st.frames.map((f) => f.record.settings.style_weight);
    st.close();
    return { r, steered, steers, weights };
  });
  assert.equal(got.steered, 'ok', 'steer() during frame 2 is accepted');
  assert.deepEqual(got.steers, [{ style_weight: 100 }]);
  assert.equal(got.r.frames, 3);
  assert.deepEqual(got.weights.slice(1), [100, 100], 'frames 2 and 3 record the steered weight');
  assert.deepEqual(log.errors, [], 'no console errors');
  await context.close();
});

test('a device lost during a video: recover() goes on from the frame that failed and finishes the clip', async () => {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const got = await page.evaluate(async () => {
    const api = await import('./stylize-api.js');
    const st = await api.StyleTransfer.create(); // its own device: losing it leaves the page's alone
    const frame = (k) => {
      const data = new Uint8Array(32 * 32 * 4);
      for (let i = 0; i < 32 * 32; i++) data.set([(i * 5 + k * 9) & 255, (i >> 2) & 255, 100, 255], 4 * i);
      return { data, width: 32, height: 32 };
    };
    const style = await api.decodeImage('samples/flow_strokes.png');
    let lost = false;
    st.addEventListener('progress', (e) => {
      if (e.detail.frame === 1 && !lost) { lost = true; st.simulateDeviceLoss(); }
    });
    let error = null;
    try {
      await st.run({ video: [frame(0), frame(1), frame(2)], style, settings: { size: 32, iterations: 4, scales: 1 }, frameIterations: 6 });
    } catch (e) {
      error = e.name;
    }
    const before = st.frames.length;
    const r = await st.recover();
    const out = { error, before, r, frames: st.frames.map((f) => [f.width, f.height]) };
    st.close();
    return out;
  });
  assert.ok(['DeviceLost', 'Gpu'].includes(got.error), `the loss fails the run (${got.error})`);
  assert.equal(got.before, 1, 'frame 1 was finished before the loss');
  assert.equal(got.r.frames, 3, 'recover() finishes the clip');
  assert.deepEqual(got.frames, [[32, 32], [32, 32], [32, 32]]);
  await context.close();
});
