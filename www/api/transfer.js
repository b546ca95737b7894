// api/transfer.js — StyleTransfer: the engine on this page's GPU and its runs (see stylize-api.js
// for the whole API). Its fields are declared at the top; the run loop is api/run-loop.js.

import { Stylizer, loadWasm, namedError, webgpuStatus } from './engine.js';
import { paintingList, runRecord, withBlend } from './inputs.js';
import { fetchWeights } from './weights.js';
import { rgbaToPng } from './images.js';
import { resumeAtLastGood, runLoop, startJob, steerRun } from './run-loop.js';
import { VideoRun, runVideo } from './video-run.js';

/** A style-transfer engine on this page's GPU. Events: progress, losses, done, error. */
export class StyleTransfer extends EventTarget {
  // The engine.
  stylizer = null; // the wasm Stylizer: the GPU device and the weights on it
  weights = null; // the weights' bytes (to open a new device after a loss or a fallback)
  options = {}; // { conv, precision, breakKernels } as asked for
  budget = null; // the memory budget set (bytes), carried to a new device
  previewMode = 'webgpu'; // 'webgpu': the GPU draws the preview; '2d': a readback after each batch
  siblingsShare = false; // whether sibling()s share this engine (then it is not freed here)
  notes = []; // the GPU fallbacks taken, for the page's status details
  // The run.
  state = 'idle'; // idle | starting | running | paused | done | failed
  settings = null; // the run's settings (steering included)
  inputs = null; // { content, style, canvas, init, mask, styleMasks }
  runSettings = null; // after a recovery: the settings of the next start (the remaining scales)
  jobSettings = null; // the settings the job runs with
  job = null; // the wasm Job: the run on the GPU
  base = 0; // iterations of the scales finished before a recovery
  scaleBase = 0; // scales finished before a recovery
  history = []; // the loss records, one per sample
  steers = []; // { iteration, changes } of each steer() of the current run
  lastGood = null; // the last image kept: { data, width, height, iteration, scale, runIteration }
  stopped = false; // stop() or dispose() asked the loop to end
  disposeWhenIdle = false; // dispose() during a run: the loop frees the job when it leaves
  resumeGate = null; // resolves a paused loop's wait
  video = null; // a video run (api/video-run.js): its frames, schedule and finished frames

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
   * Loads wasm and weights (given bytes, or fetched from `weightsUrl` — default: weights/ beside
   * the package — with integrity check and caching) and opens the GPU. Rejects with name
   * 'NoWebGPU', 'Weights' or 'Device'.
   */
  static async create({ weights, weightsUrl, onWeightsProgress, conv, precision, breakKernels, memoryBudget } = {}) {
    const status = await webgpuStatus();
    if (!status.ok) throw namedError('NoWebGPU', status.message);
    await loadWasm();
    const bytes = weights ?? (await fetchWeights({ url: weightsUrl ?? undefined, onProgress: onWeightsProgress }));
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

  #emit = (type, detail) => this.dispatchEvent(new CustomEvent(type, { detail }));
  #loop = () => runLoop(this, { emit: this.#emit, freeJob: () => this.#freeJob() });
  #video = () => runVideo(this, { start: (emit) => this.#start(emit), emit: this.#emit, freeJob: () => this.#freeJob() });

  /**
   * Runs the optimisation, drawing the live preview into `canvas` (a WebGPU canvas) if given.
   * Resolves to {width, height, iteration, stopped} when finished or stopped; rejects on errors
   * (the last good image stays available through image()).
   * With `video` (frames, one size) instead of `content`: a video run (api/video-run.js).
   */
  async run({ content, style, settings = {}, canvas = null, init = null, mask = null, styleMasks = null, video = null, frameIterations, temporalWeight, independent }) {
    if (this.busy) throw namedError('Busy', 'A run is already in progress.');
    const next = video ? new VideoRun(video, { frameIterations, temporalWeight, independent }) : null;
    this.settings = withBlend({ ...StyleTransfer.defaults(), ...settings }, paintingList(style).length);
    this.inputs = { content: next ? video[0] : content, style, canvas, init: next ? null : init, mask, styleMasks };
    Object.assign(this, { runSettings: null, base: 0, scaleBase: 0, history: [], steers: [], lastGood: null, stopped: false });
    this.video?.free();
    this.video = next;
    if (next) return this.#video();
    await this.#start();
    return this.#loop();
  }

  /** The finished frames of the last video run: [{data, width, height, record, temporalError, reliable, seconds}]. */
  get frames() {
    return this.video?.results ?? [];
  }

  /**
   * After a run: a new run at the larger `size` whose first scale is the current result (the
   * scales up to the result's size are skipped), with the same images and settings. Resolves like
   * run(). Lets a person try settings small and render the one they like large.
   */
  async continueLarger(size, settings = {}) {
    if (this.busy) throw namedError('Busy', 'A run is already in progress.');
    if (this.video) throw namedError('Settings', "Continue larger takes a photo's result, not a video's: run the video again at the larger size.");
    const prev = await this.image();
    const side = Math.max(prev.width, prev.height);
    if (!(size > side)) throw namedError('Settings', `Continue larger needs a size above the result's ${side} px.`);
    const s = { ...this.settings, ...settings, size, schedule: [] };
    // The ladder from `size` down by √2 stops above the result: its first scale is the first larger one.
    s.min_size = Math.min(size, Math.max(s.min_size ?? 128, side + 1));
    return this.run({ ...this.inputs, settings: s, init: { data: prev.data, width: prev.width, height: prev.height } });
  }

  /** Starts a session for this.inputs (api/run-loop.js `startJob`: with the GPU fallbacks). */
  #start(emit = this.#emit) {
    return startJob(this, { emit, freeJob: () => this.#freeJob(), reopen: (variant) => this.#reopen(variant) });
  }

  /**
   * The engine on a new device with `variant`'s conv and precision (the memory budget kept); the
   * old one is freed unless a sibling may still use it (then it is collected when the last one
   * lets go).
   */
  async #reopen({ conv, precision }) {
    const lost = this.stylizer;
    this.stylizer = await Stylizer.create(this.weights, conv ?? undefined, precision ?? undefined, this.options.breakKernels ?? undefined);
    if (this.budget) this.stylizer.setMemoryBudget(this.budget);
    if (!this.siblingsShare) lost.free();
  }

  /** dispose(), and frees the engine too unless a sibling shares it: this StyleTransfer is done. */
  close() {
    this.dispose();
    if (!this.busy) this.video?.free();
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
      this.video?.free();
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
    steerRun(this, changes, StyleTransfer.steerable, this.#emit);
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
    if (this.video) {
      this.#freeJob();
      this.video.free();
      await this.#reopen(this.options);
      this.stopped = false;
      return this.#video();
    }
    resumeAtLastGood(this);
    this.#freeJob();
    await this.#reopen(this.options);
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
    throw namedError('NoImage', 'No image yet: run() first.');
  }

  /**
   * What the current (or last) run was made from: {stylize, settings, content: {name, sha256},
   * style, adapter} — the inputs' names and hashes as decodeImage() gave them — or null before a run.
   */
  record() {
    return runRecord(this.inputs, this.settings, this.adapterSummary);
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
