// stylize-api.js — the JavaScript API of stylize, on which the page and the <style-transfer>
// element are built. Everything runs in this browser on WebGPU; nothing is uploaded.
//
//   import { StyleTransfer, decodeImage, webgpuStatus } from './stylize-api.js';
//   const st = await StyleTransfer.create({ onWeightsProgress: (got, total) => ... });
//   st.addEventListener('progress', e => console.log(e.detail));
//       // {iteration, iterations, scale, scales, width, height, itPerSec, etaSeconds}
//   st.addEventListener('scale', e => ...);   // {scale, scales, width, height, iterations}: a scale begins
//   st.addEventListener('losses', e => ...);  // {iteration, content, style, tv, total, scale, scaleIteration,
//                                             //  content_weight, style_weight (those of its batch)}
//   const result = await st.run({ content: await decodeImage(file), style: await decodeImage(url),
//                                 settings: { size: 256, iterations: 300 }, canvas });
//   const png = await st.pngBlob();
//   await st.continueLarger(1024);            // the result as the first scale of a larger run
//   st.steer({ style_weight: 300 });          // during a run: applies from the next batch
//   st.run({ content, style: [starry, scream], settings: { style_blend: [0.7, 0.3] } }); // blend paintings
//   st.run({ content, style, mask,                     // regions: a decoded mask image and what each colour takes
//            settings: { regions: [{ color: [255, 0, 0], painting: 0 }, { color: [0, 0, 255], painting: null }] } });
//   st.run({ content, style, mask, styleMasks: [paintingMask],  // style masks: per painting, a mask in the same
//            settings: { regions } });                          // colours; a region matches its part of the painting
//   st.addEventListener('steer', e => ...);   // {iteration, changes}
//
// A run is coarse-to-fine by default (settings.scales 0: from settings.min_size up to size in
// steps of √2; `iterations` are the final scale's, see Settings::schedule in the engine); the
// preview, progress (in run iterations; ETA weighted by each scale's pixels), losses and history
// continue across scales.
//
// Errors are Error objects whose `name` says what failed: 'NoWebGPU', 'Weights', 'Image',
// 'Settings', 'TooLarge' (with `fits`, the largest size that fits), 'DeviceLost', 'NotFinite', 'Gpu'.

import init, { Stylizer, checkImageBytes, liveSessions, liveSessionBytes, pngWithRecord, pngRecord, version } from './stylize.js';

const BASE = new URL('.', import.meta.url);
/** SHA-256 of weights/vgg19-conv-f16.safetensors as made by tools/fetch-weights. */
export const WEIGHTS_SHA256 = 'ad22996da9b58db06c0386c46129cf600f18e545feb000d616cea0a807368b07';
export const WEIGHTS_URL = new URL('weights/vgg19-conv-f16.safetensors', BASE).href;
const CACHE = 'stylize-weights-v1';

let wasm;
/** Sessions alive on this page (each holds GPU memory until its run is replaced or disposed). */
export function liveSessionCount() {
  return liveSessions();
}

/** GPU bytes the live sessions of this page hold (their memory plans, weights included). */
export function liveSessionGpuBytes() {
  return liveSessionBytes();
}

/** Loads the wasm module once. */
export function loadWasm() {
  wasm ??= init({ module_or_path: new URL('stylize_bg.wasm', BASE) });
  return wasm;
}

export function namedError(name, message, extra = {}) {
  const e = new Error(message);
  e.name = name;
  return Object.assign(e, extra);
}

/** Whether this browser can run stylize: resolves to {ok, message}. */
export async function webgpuStatus() {
  const help = 'stylize needs WebGPU: use Chrome or Edge 113 or newer, Safari 26 or newer, or Firefox 141 or newer on Windows, with hardware acceleration enabled.';
  if (!('gpu' in navigator)) return { ok: false, message: `This browser does not offer WebGPU. ${help}` };
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { ok: false, message: `WebGPU is present but no GPU adapter is available (it may be disabled or blocklisted). ${help}` };
    const fallback = !!(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter);
    return { ok: true, fallback, message: fallback ? 'WebGPU runs on a software adapter (slow).' : 'WebGPU is available.' };
  } catch (e) {
    return { ok: false, message: `WebGPU failed to start: ${e.message}. ${help}` };
  }
}

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Downloads the weights from this site with progress, or takes them from Cache Storage (second
 * visit, offline), and checks their SHA-256 before use. onProgress(receivedBytes, totalBytes, fromCache).
 */
export async function fetchWeights({ url = WEIGHTS_URL, onProgress = () => {} } = {}) {
  const cache = 'caches' in self ? await caches.open(CACHE).catch(() => null) : null;
  let resp = cache ? await cache.match(url) : undefined;
  const fromCache = !!resp;
  if (!resp) {
    try {
      resp = await fetch(url);
    } catch (e) {
      throw namedError('Weights', `Could not download the weights (${e.message}). Check your connection or use a local weights file.`);
    }
    if (!resp.ok) throw namedError('Weights', `Could not download the weights: HTTP ${resp.status} for ${url}.`);
  }
  const total = Number(resp.headers.get('content-length')) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    onProgress(got, total, fromCache);
  }
  const bytes = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) { bytes.set(c, off); off += c.length; }
  const hash = await sha256Hex(bytes);
  if (hash !== WEIGHTS_SHA256) {
    if (cache) await cache.delete(url);
    throw namedError('Weights', `The downloaded weights are corrupt (SHA-256 ${hash.slice(0, 12)}… instead of ${WEIGHTS_SHA256.slice(0, 12)}…). Reload to download them again.`);
  }
  if (cache && !fromCache) {
    await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
  }
  return bytes;
}

/**
 * Decodes an image (File/Blob or URL) honouring EXIF orientation (the first frame of an
 * animation; transparency composited on white), scaled down so its longer side is at most
 * maxSide. Empty files, truncated JPEGs and absurd declared dimensions are refused first, with the
 * CLI's messages. Resolves to {data: Uint8Array RGBA, width, height}; rejects with name 'Image'.
 */
export async function decodeImage(source, maxSide = 2048) {
  let blob = source;
  if (!(source instanceof Blob)) {
    const r = await fetch(source).catch((e) => { throw namedError('Image', `Could not load ${source}: ${e.message}`); });
    if (!r.ok) throw namedError('Image', `Could not load ${source}: HTTP ${r.status}`);
    blob = await r.blob();
  }
  // Browsers decode a truncated JPEG with its missing rows filled in; refuse it with the CLI's
  // message (the same check, in the engine).
  await loadWasm();
  const name = source instanceof File ? source.name : decodeURIComponent(String(source).split('/').pop());
  const bytes = new Uint8Array(await blob.arrayBuffer());
  try {
    checkImageBytes(bytes, name);
  } catch (e) {
    throw namedError('Image', e.message);
  }
  // For the result's record (crypto.subtle exists in secure contexts only).
  const sha256 = crypto.subtle ? await sha256Hex(bytes) : null;
  let bmp;
  try {
    bmp = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    const what = source instanceof File ? `"${source.name}"` : 'this file';
    throw namedError('Image', `Could not read ${what}: it is not an image this browser can decode (PNG, JPEG, WebP, GIF, AVIF).`);
  }
  const scale = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
  const width = Math.max(1, Math.round(bmp.width * scale));
  const height = Math.max(1, Math.round(bmp.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  // Transparency is composited on white, as the CLI does.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bmp, 0, 0, width, height);
  bmp.close();
  const data = new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer);
  return { data, width, height, name, sha256 };
}

/**
 * The run record a PNG carries ({stylize, settings, content: {name, sha256}, style, adapter}), or
 * null for a PNG without one. Rejects with 'Image' if the file is not a PNG, 'Settings' if its
 * record cannot be read.
 */
export async function readRecord(blob) {
  await loadWasm();
  const bytes = new Uint8Array(await blob.arrayBuffer());
  try {
    return pngRecord(bytes);
  } catch (e) {
    throw namedError(e.name || 'Image', e.message);
  }
}

/** Encodes RGBA bytes as a PNG Blob, with `record` (see readRecord) inside it when given. */
export async function rgbaToPng(image, record = null) {
  const png = await encodePng(image);
  if (!record) return png;
  await loadWasm();
  return new Blob([pngWithRecord(new Uint8Array(await png.arrayBuffer()), record)], { type: 'image/png' });
}

async function encodePng({ data, width, height }) {
  // In a worker (png-worker.js), so encoding a full-resolution image never freezes the page; on
  // the page's thread only where workers cannot be made (e.g. an embedding site's CSP).
  const pixels = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  try {
    return await pngInWorker(pixels, width, height);
  } catch (e) {
    if (e.name !== 'NoWorker') throw e;
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

let pngWorker = null;
let pngJobs = 0;
const pngPending = new Map();
function pngInWorker(pixels, width, height) {
  if (!pngWorker) {
    try {
      pngWorker = new Worker(new URL('./png-worker.js', import.meta.url));
    } catch (e) {
      return Promise.reject(namedError('NoWorker', e.message));
    }
    pngWorker.onmessage = ({ data }) => {
      const job = pngPending.get(data.id);
      pngPending.delete(data.id);
      if (data.error) job?.reject(namedError('Encode', `PNG encoding failed: ${data.error}`));
      else job?.resolve(data.blob);
    };
    pngWorker.onerror = (e) => {
      e.preventDefault();
      for (const job of pngPending.values()) job.reject(namedError('NoWorker', e.message || 'the PNG worker did not start'));
      pngPending.clear();
      pngWorker = null;
    };
  }
  const id = ++pngJobs;
  return new Promise((resolve, reject) => {
    pngPending.set(id, { resolve, reject });
    // A copy is transferred (the caller keeps its pixels).
    const copy = pixels.slice();
    pngWorker.postMessage({ id, data: copy.buffer, width, height }, [copy.buffer]);
  });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** `style` as a list: one painting, or up to four to blend. */
function paintingList(style) {
  const list = Array.isArray(style) ? style : [style];
  if (list.length < 1 || list.length > 4) throw namedError('Settings', `Blend 1 to 4 paintings, not ${list.length}.`);
  return list;
}

/** Settings for `n` paintings: equal blend weights unless given. */
function withBlend(settings, n) {
  if (n > 1 && !(settings.style_blend?.length)) return { ...settings, style_blend: Array(n).fill(1 / n) };
  return settings;
}

/** A style-transfer engine on this page's GPU. Events: progress, losses, done, error. */
export class StyleTransfer extends EventTarget {
  /**
   * Another StyleTransfer on the same GPU device and weights (no second download or upload), for
   * a second run at the same time (e.g. two <style-transfer> elements on one page).
   */
  sibling() {
    const st = new StyleTransfer();
    Object.assign(st, { previewMode: this.previewMode, stylizer: this.stylizer, weights: this.weights, options: this.options, budget: this.budget, siblingsShare: true });
    this.siblingsShare = true;
    return st;
  }

  /**
   * Loads wasm and weights (given bytes, or fetched with integrity check and caching) and opens
   * the GPU. Rejects with name 'NoWebGPU', 'Weights' or 'Device'.
   */
  static async create({ weights, onWeightsProgress, conv, precision, breakKernels, memoryBudget } = {}) {
    const status = await webgpuStatus();
    if (!status.ok) throw namedError('NoWebGPU', status.message);
    await loadWasm();
    const bytes = weights ?? (await fetchWeights({ onProgress: onWeightsProgress }));
    const st = new StyleTransfer();
    // The live preview is drawn by the GPU into a WebGPU canvas. Software adapters (SwiftShader,
    // as in headless test browsers) cannot always present WebGPU canvases, so there the preview
    // is a 2D canvas fed by a small readback after each batch instead.
    st.previewMode = new URLSearchParams(location.search).get('preview') ?? (status.fallback ? '2d' : 'webgpu');
    st.options = { conv, precision, breakKernels };
    st.stylizer = await Stylizer.create(bytes, conv ?? undefined, precision ?? undefined, breakKernels ?? undefined);
    st.weights = bytes;
    if (memoryBudget != null) st.memoryBudget = memoryBudget;
    return st;
  }

  /**
   * The GPU memory a run may use, in bytes, weights included (default: derived from the adapter,
   * 512 MiB to 2 GiB). A size whose whole network would not fit runs over tiles that do
   * (`plan().tiles`); set it lower for a device with less memory to spare.
   */
  get memoryBudget() {
    return this.stylizer.memoryBudget();
  }

  set memoryBudget(bytes) {
    this.stylizer.setMemoryBudget(Number(bytes));
    this.budget = Number(bytes);
  }

  constructor() {
    super();
    this.state = 'idle'; // idle | starting | running | paused | done | failed
    this.notes = []; // GPU fallbacks taken, for the page's status details
    this.history = [];
    this.steers = []; // {iteration, changes} of each steer() of the current run
    this.lastGood = null;
  }

  /** The engine's default settings (a plain object). */
  static defaults() {
    return Stylizer.defaultSettings();
  }

  /** The names of the settings `steer()` can change (the engine's list). */
  static get steerable() {
    return Stylizer.steerableSettings();
  }

  /** Whether a run is starting, running or paused. */
  get busy() {
    return ['starting', 'running', 'paused'].includes(this.state);
  }

  /** The conv implementation and storage this engine runs: {conv, precision}. */
  get variant() {
    return this.stylizer.variant();
  }

  get adapter() {
    return this.stylizer.adapter();
  }

  /** The adapter in one line (name, backend, device type; conv path, storage), as records name it. */
  get adapterSummary() {
    return this.stylizer.adapterSummary();
  }

  /** Memory plan for content/style (decoded images) at settings: see Stylizer.plan. */
  plan(content, style, settings) {
    const [first, ...more] = paintingList(style);
    return this.stylizer.plan(content.width, content.height, first.width, first.height, withBlend(settings, 1 + more.length), more.map(({ width, height }) => ({ width, height })));
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * Runs the optimisation, drawing the live preview into `canvas` (a WebGPU canvas) if given.
   * Resolves to {width, height, iteration, stopped} when finished or stopped; rejects on errors
   * (the last good image stays available through image()).
   */
  async run({ content, style, settings = {}, canvas = null, init = null, mask = null, styleMasks = null }) {
    if (this.busy) throw namedError('Busy', 'A run is already in progress.');
    this.settings = withBlend({ ...StyleTransfer.defaults(), ...settings }, paintingList(style).length);
    this.inputs = { content, style, canvas, init, mask, styleMasks };
    this.runSettings = null;
    this.base = 0;
    this.scaleBase = 0;
    this.history = [];
    this.steers = [];
    this.lastGood = null;
    this.stopped = false;
    await this.#start();
    return this.#loop();
  }

  /**
   * After a run: a new run at the larger `size` whose first scale is the current result (the
   * scales up to the result's size are skipped), with the same images and settings. Resolves like
   * run(). Lets a person try settings small and render the one they like large.
   */
  async continueLarger(size, settings = {}) {
    if (this.busy) throw namedError('Busy', 'A run is already in progress.');
    const prev = await this.image();
    const side = Math.max(prev.width, prev.height);
    if (!(size > side)) throw namedError('Settings', `Continue larger needs a size above the result's ${side} px.`);
    const s = { ...this.settings, ...settings, size, schedule: [] };
    // The ladder from `size` down by √2 stops above the result: its first scale is the first larger one.
    s.min_size = Math.min(size, Math.max(s.min_size ?? 128, side + 1));
    return this.run({ ...this.inputs, settings: s, init: { data: prev.data, width: prev.width, height: prev.height } });
  }

  /**
   * Starts a session for this.inputs, freeing the one it replaces (wasm objects hold GPU memory
   * that garbage collection knows nothing of). When a kernel fails to compile or validate on this
   * GPU, falls back (f16 → f32 storage, tiled → direct kernels) on a new device with a console
   * warning and a 'fallback' event {from, to, message} instead of failing. A failure to start
   * (TooLarge, bad settings, nothing left to fall back to, ...) fires 'error' and throws, like a
   * failure during the run.
   */
  async #start() {
    const { content, style: paintings, canvas, init, mask, styleMasks } = this.inputs;
    const [style, ...more] = paintingList(paintings);
    const gpuCanvas = this.previewMode === 'webgpu' ? canvas : null;
    this.#freeJob();
    this.state = 'starting';
    try {
      for (;;) {
        try {
          this.jobSettings = this.runSettings ?? this.settings;
          this.job = await this.stylizer.start(content.data, content.width, content.height, style.data, style.width, style.height, this.jobSettings, gpuCanvas, init ?? undefined, more, mask ?? undefined, styleMasks?.map((m) => m ?? null) ?? undefined);
          this.runSettings = null;
          this.#emitScale();
          return;
        } catch (e) {
          const next = e.name === 'Kernel' ? this.stylizer.fallback() : null;
          if (!next) throw e;
          const from = this.stylizer.variant();
          const note = `${from.conv} kernels with ${from.precision} storage failed on this GPU; using ${next.conv} kernels with ${next.precision} storage (${e.message})`;
          console.warn(`stylize: ${note}`);
          this.notes.push(note);
          this.#emit('fallback', { from, to: next, message: e.message });
          const lost = this.stylizer;
          this.stylizer = await Stylizer.create(this.weights, next.conv, next.precision, this.options?.breakKernels ?? undefined);
          if (this.budget) this.stylizer.setMemoryBudget(this.budget);
          if (!this.siblingsShare) lost.free();
        }
      }
    } catch (e) {
      this.state = 'failed';
      this.#emit('error', e);
      throw e;
    }
  }

  /** dispose(), and frees the engine too unless a sibling shares it: this StyleTransfer is done. */
  close() {
    this.dispose();
    if (!this.siblingsShare && !this.busy) this.stylizer?.free();
    this.stylizer = null;
  }

  #freeJob() {
    this.job?.free();
    this.job = null;
  }

  /** Ends any run and frees the session's GPU memory (the last good image stays available). */
  dispose() {
    this.stopped = true;
    this.resumeGate?.();
    if (this.busy) {
      this.disposeWhenIdle = true; // the loop frees the job when it leaves
    } else {
      this.#freeJob();
    }
  }

  #emitScale() {
    const { job } = this;
    const scales = job.scales;
    const sb = this.scaleBase ?? 0; // scales finished before a recovery
    this.#emit('scale', { scale: sb + job.scale, scales: sb + scales.length, width: job.width, height: job.height, iterations: scales[job.scale].iterations });
  }

  /** Total iterations of the run (all scales) and those done so far. */
  #runIterations() {
    const { job } = this;
    const base = this.base ?? 0; // iterations of scales finished before a recovery
    return { done: base + job.iterationsBefore + job.iteration, total: base + job.scales.reduce((a, s) => a + s.iterations, 0) };
  }

  async #draw2d() {
    const canvas = this.inputs.canvas;
    if (!canvas || this.previewMode === 'webgpu') return;
    const { job } = this;
    const data = await job.image();
    if (canvas.width !== job.width || canvas.height !== job.height) Object.assign(canvas, { width: job.width, height: job.height });
    canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(data.buffer), job.width, job.height), 0, 0);
  }

  async #loop() {
    const job = this.job;
    this.state = 'running';
    let batch = 1;
    let inflight = job.done(); // the targets computed by start()
    let overlap = false;
    let lastLossAt = -1;
    let lastSaveAt = -Infinity;
    // Rates and ETA in work (pixel-iterations: a scale's iteration costs the pixels its network
    // processes, tiles' halos and second pass included), so the ETA stays honest when a larger
    // (or tiled) scale begins.
    const rateStart = { t: performance.now(), work: job.work()[1] };
    try {
      while (!this.stopped) {
        if (this.state === 'paused') {
          await new Promise((r) => (this.resumeGate = r));
          rateStart.t = performance.now();
          rateStart.work = job.work()[1];
          continue;
        }
        if (job.remaining === 0) {
          if (job.atLastScale) break;
          // Next scale: the shown image read back (f32), the next session started from it upsampled.
          if (inflight) { await inflight; inflight = null; }
          const prev = await job.shownImage();
          if (this.stopped) break;
          job.advance(prev);
          lastLossAt = -1;
          lastSaveAt = -Infinity;
          batch = 1;
          overlap = false;
          this.#emitScale();
          inflight = job.done(); // the new scale's targets
          continue;
        }
        // Submit one batch of k iterations. On fast GPUs the next batch is queued while this one
        // runs (two in flight); when a batch takes long (slow or software adapters) we wait for it
        // first, so the GPU never holds more than one long batch (browsers reset devices whose
        // queue stays busy for many seconds).
        if (!overlap && inflight) { await inflight; inflight = null; }
        const k = Math.min(batch, job.remaining);
        // The weights the batch runs with (a steer() during it applies to the next one).
        const weights = { content_weight: this.settings.content_weight, style_weight: this.settings.style_weight };
        const t = performance.now();
        job.step(k, true);
        const done = job.done();
        if (inflight) await inflight;
        inflight = done;
        if (!overlap) { await inflight; inflight = null; }
        const it = job.iteration;
        const [totalWork, doneWork] = job.work();
        const elapsed = (performance.now() - rateStart.t) / 1000;
        const workPerSec = elapsed > 0 ? (doneWork - rateStart.work) / elapsed : 0;
        const pixels = job.scales[job.scale]?.work ?? job.width * job.height; // a scale's work per iteration
        // Aim for ~100 ms of GPU work per batch so the page stays responsive.
        const msPerIt = (performance.now() - t) / k;
        batch = Math.max(1, Math.min(20, Math.round(100 / Math.max(msPerIt, 1))));
        overlap = msPerIt * batch < 250;
        const scaleEnd = job.remaining === 0;
        if (it - 1 - lastLossAt >= 10 || lastLossAt < 0 || scaleEnd) {
          const l = await job.losses();
          lastLossAt = l.iteration;
          const entry = { ...l, ...weights, iteration: (this.base ?? 0) + job.iterationsBefore + l.iteration, scale: (this.scaleBase ?? 0) + job.scale, scaleIteration: l.iteration };
          this.history.push(entry);
          this.#emit('losses', entry);
        }
        await this.#draw2d();
        if (it - lastSaveAt >= 25 || scaleEnd) {
          this.lastGood = { data: await job.image(), width: job.width, height: job.height, iteration: it, scale: job.scale, runIteration: this.#runIterations().done };
          lastSaveAt = it;
        }
        const run = this.#runIterations();
        this.#emit('progress', {
          iteration: run.done, iterations: run.total, scale: (this.scaleBase ?? 0) + job.scale, scales: (this.scaleBase ?? 0) + job.scales.length, width: job.width, height: job.height, tiles: job.tiles,
          itPerSec: workPerSec / pixels, etaSeconds: workPerSec > 0 ? (totalWork - doneWork) / workPerSec : null,
        });
        await tick();
      }
      if (inflight) await inflight;
      this.lastGood = { data: await job.image(), width: job.width, height: job.height, iteration: job.iteration, scale: job.scale, runIteration: this.#runIterations().done };
      const result = { width: job.width, height: job.height, iteration: this.#runIterations().done, stopped: this.stopped };
      this.state = 'done';
      if (this.disposeWhenIdle) { this.disposeWhenIdle = false; this.#freeJob(); }
      this.#emit('done', result);
      return result;
    } catch (e) {
      this.state = 'failed';
      if (this.disposeWhenIdle) { this.disposeWhenIdle = false; this.#freeJob(); }
      this.#emit('error', e);
      throw e;
    }
  }

  /**
   * Steers the live run: `changes` may set content_weight, style_weight, tv_weight,
   * style_layer_weights, lr and style_blend (as many weights as paintings). They apply from the
   * next batch (and to later scales) without
   * restarting, resetting the optimiser or recompiling anything, and stay in `settings` (a
   * recovery keeps them). Fires 'steer' {iteration, changes}; `steers` lists every change. Throws
   * 'Settings' for any other key, a bad value, or when no run is going.
   */
  steer(changes) {
    const allowed = StyleTransfer.steerable;
    const other = Object.keys(changes).find((k) => !allowed.includes(k));
    if (other) throw namedError('Settings', `\`${other}\` cannot change during a run (only ${allowed.join(', ')} can): start a new run.`);
    if (!this.job || !['running', 'paused'].includes(this.state)) throw namedError('Settings', 'There is no run to steer.');
    const next = { ...this.jobSettings, ...changes };
    this.job.steer(next);
    this.jobSettings = next;
    this.settings = { ...this.settings, ...changes };
    const entry = { iteration: this.#runIterations().done, changes: { ...changes } };
    this.steers.push(entry);
    this.#emit('steer', entry);
  }

  /** Pauses after the batch in flight. */
  pause() {
    if (this.state === 'running') this.state = 'paused';
  }

  /** Resumes a paused run. */
  resume() {
    if (this.state === 'paused') {
      this.state = 'running';
      this.resumeGate?.();
    }
  }

  /** Ends the run after the batch in flight; the current image is the result. */
  stop() {
    this.stopped = true;
    this.resume();
  }

  /**
   * After a device loss (or other GPU failure): opens a new device, restores the last good image
   * and continues the run to its planned iteration count — or, when the loss came before any
   * image was kept (during the first batch), starts the run over on the new device.
   */
  async recover() {
    // Resume at the scale that was running: the remaining scales as an explicit schedule, from
    // the last good image (of that scale's size; a scale of the init image's size is kept).
    const scales = this.job?.scales;
    const from = this.lastGood?.scale ?? 0;
    if (scales && this.lastGood) {
      this.runSettings = { ...this.settings, schedule: scales.slice(from).map((s) => [Math.max(s.width, s.height), s.iterations]) };
      this.inputs = { ...this.inputs, init: this.lastGood };
      this.base = (this.base ?? 0) + scales.slice(0, from).reduce((a, s) => a + s.iterations, 0);
      this.scaleBase = (this.scaleBase ?? 0) + from;
    }
    this.#freeJob();
    const lost = this.stylizer;
    const v = this.options ?? {};
    this.stylizer = await Stylizer.create(this.weights, v.conv ?? undefined, v.precision ?? undefined, v.breakKernels ?? undefined);
    if (this.budget) this.stylizer.setMemoryBudget(this.budget);
    // A sibling may still use the lost engine; it is collected when the last one lets go.
    if (!this.siblingsShare) lost.free();
    this.stopped = false;
    await this.#start();
    // Lost before the first image was kept (during the first batch): the run starts over.
    if (this.lastGood) this.job.setImage(this.lastGood.data, this.lastGood.width, this.lastGood.height, this.lastGood.iteration);
    else this.history = [];
    return this.#loop();
  }

  /** The current image, or the last good one after a failure: {data, width, height}. */
  async image() {
    if (this.state !== 'failed' && this.job) {
      try {
        return { data: await this.job.image(), width: this.job.width, height: this.job.height };
      } catch { /* fall back to the last good image */ }
    }
    if (this.lastGood) return this.lastGood;
    throw namedError('Gpu', 'No image yet.');
  }

  /**
   * What the current (or last) run was made from: {stylize, settings, content: {name, sha256},
   * style, adapter} — the inputs' names and hashes as decodeImage() gave them — or null before a run.
   */
  record() {
    if (!this.inputs || !this.settings) return null;
    const input = (img) => ({ name: img.name ?? 'image', sha256: img.sha256 ?? '' });
    const [first, ...more] = paintingList(this.inputs.style);
    const rec = { stylize: version(), settings: this.settings, content: input(this.inputs.content), style: input(first), adapter: this.adapterSummary };
    if (more.length) rec.more_paintings = more.map(input);
    if (this.inputs.mask) rec.mask = input(this.inputs.mask);
    if (this.inputs.styleMasks?.some((m) => m)) rec.style_masks = this.inputs.styleMasks.map((m) => (m ? input(m) : null));
    return rec;
  }

  /** The current image as a PNG Blob carrying its record (see record()). */
  async pngBlob() {
    return rgbaToPng(await this.image(), this.record());
  }

  /** Test hook: destroys the GPU device, as a driver reset or the browser reclaiming the GPU would. */
  simulateDeviceLoss() {
    this.stylizer.loseDevice();
  }
}
