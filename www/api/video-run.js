// api/video-run.js — a StyleTransfer's video run: the frames one after another, each a job of the
// engine's Video (the first a coarse-to-fine run; each later one a single scale that starts from
// the previous result warped by the optical flow, with the temporal loss), each driven by the
// ordinary run loop (api/run-loop.js) and its result handed back before the next starts. Adds
// the frame and the whole clip's ETA to the run's events and fires 'frame' as each one is done.

import { namedError, Stylizer } from './engine.js';
import { paintingList } from './inputs.js';
import { runLoop } from './run-loop.js';

/** The engine's defaults for later frames: {frameIterations, temporalWeight}. */
export const videoDefaults = () => Stylizer.videoDefaults();

export class VideoRun {
  frames = []; // the clip: [{data, width, height, name}]
  schedule = null; // {frameIterations, temporalWeight, independent}
  results = []; // finished frames: {data, width, height, record, iterations, temporalError, reliable, seconds}
  index = 0; // the frame being stylised
  video = null; // the wasm Video (the flow state and the previous result)
  engine = null; // the wasm Stylizer `video` belongs to
  laterSeconds = []; // the time each finished later frame took (the ETA)
  steered = {}; // the steer() changes so far, applied to every later frame's job

  constructor(frames, schedule) {
    if (!Array.isArray(frames) || frames.length === 0) throw namedError('Video', 'A video run needs at least one frame ({data, width, height}).');
    const { width, height } = frames[0];
    const other = frames.findIndex((f) => f.width !== width || f.height !== height);
    if (other >= 0) throw namedError('Image', `Frame ${other + 1} is ${frames[other].width}×${frames[other].height}, not ${width}×${height} like the first: every frame of a video must have one size.`);
    this.frames = frames;
    const given = Object.fromEntries(Object.entries(schedule).filter(([, x]) => x != null));
    this.schedule = { ...videoDefaults(), ...given };
    const { frameIterations: n, temporalWeight: g } = this.schedule;
    if (!(Number.isInteger(n) && n >= 1 && n <= 100000)) throw namedError('Settings', `frameIterations must be a whole number from 1 to 100000, not ${n}.`);
    if (!(Number.isFinite(g) && g >= 0)) throw namedError('Settings', `temporalWeight must be a number ≥ 0, not ${g}.`);
  }

  /**
   * Starts the current frame's job on `st`'s engine (a new Video after a fallback: nothing
   * carried), with the steers so far; resolves to the job and the settings it runs with.
   */
  async start(st, canvas) {
    if (this.engine !== st.stylizer) {
      this.video?.free();
      const { frameIterations, temporalWeight, independent } = this.schedule;
      this.video = st.stylizer.video(st.settings, frameIterations, temporalWeight, Boolean(independent));
      this.engine = st.stylizer;
    }
    const { content, style, mask, styleMasks } = st.inputs;
    const job = await this.video.start(content, paintingList(style), canvas ?? undefined, mask ?? undefined, styleMasks?.map((m) => m ?? null) ?? undefined);
    // A later frame runs other settings than the first (one scale, its iterations, γ): steers
    // are checked against those, and the steers of earlier frames carry on.
    const settings = { ...job.settings(), ...this.steered };
    if (Object.keys(this.steered).length) job.steer(settings);
    return { job, settings };
  }

  free() {
    this.video?.free();
    this.video = null;
    this.engine = null;
  }

  /** The seconds the rest of the clip should take, from the current frame's progress `p`. */
  eta(st, p, began) {
    const left = this.frames.length - this.index - 1;
    const thisFrame = (performance.now() - began) / 1000 + (p.etaSeconds ?? NaN);
    let later;
    if (this.laterSeconds.length) later = this.laterSeconds.reduce((a, b) => a + b) / this.laterSeconds.length;
    else if (this.index > 0 || this.schedule.independent) later = thisFrame;
    else {
      // Frame 1 runs coarse to fine; a later frame is frameIterations at the final scale.
      const last = st.job.scales.at(-1);
      later = (thisFrame * this.schedule.frameIterations * last.work) / st.job.work()[0];
    }
    const eta = (p.etaSeconds ?? NaN) + left * later;
    return Number.isFinite(eta) ? eta : null;
  }
}

/**
 * StyleTransfer.run({ video, frameIterations, temporalWeight, independent, style, settings, … }):
 * `video` is an array of frames {data, width, height}, one size (e.g. decodeVideo()'s `frames`),
 * stylised in turn so that they agree with each other (optical flow and a temporal loss): the
 * first with `settings`, each later one `frameIterations` at the final size with the temporal loss
 * of weight `temporalWeight` (defaults: videoDefaults()), or each on its own with `independent`.
 * Events carry `frame` and `frames`; progress's `etaSeconds` is the whole clip's; 'frame'
 * {frame, frames, image, temporalError, reliable, seconds} fires as each frame is done (then in
 * StyleTransfer.frames). Resolves to {frames, width, height, iteration, stopped}.
 *
 * Runs `st.video` (a VideoRun) from its first unfinished frame to its end or until stopped:
 * `start()` starts the current frame's job (run-loop.js startJob, with its fallbacks). Resolves
 * to {frames, width, height, iteration, stopped}; a frame stopped midway is not kept. After a GPU
 * failure (recover()) it goes on from the frame that failed, which starts afresh (its flow state
 * was on the lost device).
 */
export async function runVideo(st, { start, emit, freeJob }) {
  const run = st.video;
  const n = run.frames.length;
  for (run.index = run.results.length; run.index < n && !st.stopped; run.index++) {
    const k = run.index;
    Object.assign(st, { inputs: { ...st.inputs, content: run.frames[k] }, history: [], steers: [], lastGood: null });
    const began = performance.now();
    const frameEmit = (type, detail) => {
      if (type === 'done') return;
      if (type === 'progress') detail = { ...detail, frame: k, frames: n, frameEtaSeconds: detail.etaSeconds, etaSeconds: run.eta(st, detail, began) };
      else if (type !== 'error') detail = { ...detail, frame: k, frames: n };
      emit(type, detail);
    };
    await start(frameEmit);
    const r = await runLoop(st, { emit: frameEmit, freeJob, finish: false });
    if (r.stopped) break;
    try {
      const temporal = run.video.end(await st.job.shownImage());
      const seconds = (performance.now() - began) / 1000;
      if (k > 0 && !run.schedule.independent) run.laterSeconds.push(seconds);
      const { data, width, height } = st.lastGood;
      const frame = { data, width, height, record: st.record(), iterations: r.iteration, temporalError: temporal?.error ?? null, reliable: temporal?.reliable ?? null, seconds };
      run.results.push(frame);
      emit('frame', { frame: k, frames: n, image: { data, width, height }, temporalError: frame.temporalError, reliable: frame.reliable, seconds });
    } catch (e) {
      st.state = 'failed';
      emit('error', e);
      throw e;
    }
  }
  const last = run.results.at(-1);
  const iteration = run.results.reduce((a, f) => a + f.iterations, 0);
  const result = { frames: run.results.length, width: last?.width ?? 0, height: last?.height ?? 0, iteration, stopped: run.results.length < n };
  st.state = 'done';
  run.free(); // the flow state and the previous frame: the finished frames stay in `results`
  if (st.disposeWhenIdle) {
    st.disposeWhenIdle = false;
    freeJob();
  }
  emit('done', result);
  return result;
}
