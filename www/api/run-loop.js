// api/run-loop.js — a StyleTransfer's run in named parts: its start with the GPU fallbacks
// (`startJob`), batches paced to the GPU (`Pace`), the next scale when one is done (`nextScale`),
// the losses sampled (`sampleLosses`), the last good image kept (`checkpoint`), progress with an
// ETA in work (`progress`). It reads and writes the StyleTransfer's declared fields
// (api/transfer.js) and emits through `emit`.

import { namedError } from './engine.js';
import { paintingList } from './inputs.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

/**
 * Starts a job for st.inputs (a video's frame through st.video), freeing the one it replaces
 * (wasm objects hold GPU memory that garbage collection knows nothing of). When a kernel fails to
 * compile or validate on this GPU, falls back (Winograd → GEMM, f16 → f32 storage, tiled → direct
 * kernels) on a new device (`reopen`) with a console warning and a 'fallback' event {from, to,
 * message} instead of failing. A failure to start (TooLarge, bad settings, nothing left to fall
 * back to, ...) fires 'error' and throws, like a failure during the run.
 */
export async function startJob(st, { emit, freeJob, reopen }) {
  const { content, style: paintings, canvas, init, mask, styleMasks } = st.inputs;
  const [style, ...more] = paintingList(paintings);
  const gpuCanvas = st.previewMode === 'webgpu' ? canvas : null;
  freeJob();
  if (st.state !== 'paused') st.state = 'starting'; // a video paused between frames stays paused
  try {
    for (;;) {
      try {
        st.jobSettings = st.runSettings ?? st.settings;
        if (st.video) ({ job: st.job, settings: st.jobSettings } = await st.video.start(st, gpuCanvas));
        else st.job = await st.stylizer.start(content.data, content.width, content.height, style.data, style.width, style.height, st.jobSettings, gpuCanvas, init ?? undefined, more, mask ?? undefined, styleMasks?.map((m) => m ?? null) ?? undefined);
        st.runSettings = null;
        emitScale(st, emit);
        return;
      } catch (e) {
        const next = e.name === 'Kernel' ? st.stylizer.fallback() : null;
        if (!next) throw e;
        const from = st.stylizer.variant();
        st.notes.push(`${from.conv} kernels with ${from.precision} storage failed on this GPU; using ${next.conv} kernels with ${next.precision} storage (${e.message})`);
        console.warn(`stylize: ${st.notes.at(-1)}`);
        emit('fallback', { from, to: next, message: e.message });
        await reopen(next);
      }
    }
  } catch (e) {
    st.state = 'failed';
    emit('error', e);
    throw e;
  }
}

/** Total iterations of the run (all scales) and those done so far. */
export function runIterations(st) {
  const { job } = st;
  return { done: st.base + job.iterationsBefore + job.iteration, total: st.base + job.scales.reduce((a, s) => a + s.iterations, 0) };
}

/**
 * Before a recovery: the run resumes at the scale that was running — the remaining scales as an
 * explicit schedule, from the last good image (of that scale's size; a scale of the init image's
 * size is kept) — counting what came before in `base` and `scaleBase`.
 */
export function resumeAtLastGood(st) {
  const scales = st.job?.scales;
  if (!scales || !st.lastGood) return;
  const from = st.lastGood.scale;
  st.runSettings = { ...st.settings, schedule: scales.slice(from).map((s) => [Math.max(s.width, s.height), s.iterations]) };
  st.inputs = { ...st.inputs, init: st.lastGood };
  st.base += scales.slice(0, from).reduce((a, s) => a + s.iterations, 0);
  st.scaleBase += from;
}

/** StyleTransfer.steer: `changes` (only `allowed` keys) applied to the live job from its next batch. */
export function steerRun(st, changes, allowed, emit) {
  const other = Object.keys(changes).find((k) => !allowed.includes(k));
  if (other) throw namedError('Settings', `\`${other}\` cannot change during a run (only ${allowed.join(', ')} can): start a new run.`);
  if (!st.job || !['running', 'paused'].includes(st.state)) throw namedError('Settings', 'There is no run to steer.');
  const next = { ...st.jobSettings, ...changes };
  st.job.steer(next);
  st.jobSettings = next;
  st.settings = { ...st.settings, ...changes };
  if (st.video) Object.assign(st.video.steered, changes); // and to the video's later frames
  const entry = { iteration: runIterations(st).done, changes: { ...changes } };
  st.steers.push(entry);
  emit('steer', entry);
}

/** Fires 'scale' for the scale the job is at (counting the scales finished before a recovery). */
export function emitScale(st, emit) {
  const { job } = st;
  emit('scale', { scale: st.scaleBase + job.scale, scales: st.scaleBase + job.scales.length, width: job.width, height: job.height, iterations: job.scales[job.scale].iterations });
}

/**
 * Batches of k iterations: k aims at ~100 ms of GPU work so the page stays responsive. On fast
 * GPUs the next batch is queued while this one runs (two in flight); when a batch takes long (slow
 * or software adapters) it is awaited first, so the GPU never holds more than one long batch
 * (browsers reset devices whose queue stays busy for many seconds).
 */
class Pace {
  constructor(job) {
    this.batch = 1;
    this.overlap = false;
    this.inflight = job.done(); // the targets computed by start()
  }

  /** A new scale: its targets are in flight; pacing starts over. */
  restart(job) {
    this.batch = 1;
    this.overlap = false;
    this.inflight = job.done();
  }

  async drain() {
    if (this.inflight) await this.inflight;
    this.inflight = null;
  }

  /** Submits one batch (rendering the preview); resolves when it may be followed. */
  async submit(job) {
    if (!this.overlap) await this.drain();
    const k = Math.min(this.batch, job.remaining);
    const t = performance.now();
    job.step(k, true);
    const done = job.done();
    if (this.inflight) await this.inflight;
    this.inflight = done;
    if (!this.overlap) await this.drain();
    const msPerIt = (performance.now() - t) / k;
    this.batch = Math.max(1, Math.min(20, Math.round(100 / Math.max(msPerIt, 1))));
    this.overlap = msPerIt * this.batch < 250;
  }
}

/** Rates and ETA in work (pixel-iterations: a scale's iteration costs the pixels its network
 *  processes, tiles' halos and second pass included), so the ETA stays honest when a larger (or
 *  tiled) scale begins. */
class Rate {
  constructor(job) { this.restart(job); }
  restart(job) { this.t = performance.now(); this.work = job.work()[1]; }
  perSecond(doneWork) {
    const elapsed = (performance.now() - this.t) / 1000;
    return elapsed > 0 ? (doneWork - this.work) / elapsed : 0;
  }
}

/** The finished scale's shown image (f32; with resample_moments, Adam's moments) read back and the
 *  next scale started from it. */
async function nextScale(st, pace, emit) {
  await pace.drain();
  const carry = await st.job.leave();
  if (st.stopped) { carry.free(); return false; }
  st.job.advance(carry);
  pace.restart(st.job);
  emitScale(st, emit);
  return true;
}

/** Reads the losses every ~10 iterations (and at a scale's end) into the history. */
async function sampleLosses(st, at, weights, emit) {
  const { job } = st;
  const it = job.iteration;
  if (!(it - 1 - at.loss >= 10 || at.loss < 0 || job.remaining === 0)) return;
  const l = await job.losses();
  at.loss = l.iteration;
  const entry = { ...l, ...weights, iteration: st.base + job.iterationsBefore + l.iteration, scale: st.scaleBase + job.scale, scaleIteration: l.iteration };
  st.history.push(entry);
  emit('losses', entry);
}

/** Keeps the current image as the last good one (for recovery after a device loss). */
async function checkpoint(st) {
  const { job } = st;
  st.lastGood = { data: await job.image(), width: job.width, height: job.height, iteration: job.iteration, scale: job.scale, runIteration: runIterations(st).done };
}

/** The 2D preview (software adapters): the image read back and drawn. */
async function draw2d(st) {
  const canvas = st.inputs.canvas;
  if (!canvas || st.previewMode === 'webgpu') return;
  const { job } = st;
  const data = await job.image();
  if (canvas.width !== job.width || canvas.height !== job.height) Object.assign(canvas, { width: job.width, height: job.height });
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(data.buffer), job.width, job.height), 0, 0);
}

function progress(st, rate, emit) {
  const { job } = st;
  const [totalWork, doneWork] = job.work();
  const workPerSec = rate.perSecond(doneWork);
  const pixels = job.scales[job.scale]?.work ?? job.width * job.height; // a scale's work per iteration
  const run = runIterations(st);
  emit('progress', {
    iteration: run.done, iterations: run.total, scale: st.scaleBase + job.scale, scales: st.scaleBase + job.scales.length, width: job.width, height: job.height,
    tiles: job.tiles, itPerSec: workPerSec / pixels, etaSeconds: workPerSec > 0 ? (totalWork - doneWork) / workPerSec : null,
  });
}

/**
 * Runs `st.job` to its end (or until stopped); resolves to the result. `freeJob` frees a job
 * disposed while it ran. With `finish` false (a video's frame) the run stays 'running' and no
 * 'done' fires: the caller goes on to the next job.
 */
export async function runLoop(st, { emit, freeJob, finish = true }) {
  const job = st.job;
  if (st.state !== 'paused') st.state = 'running'; // a video paused between frames waits at once
  const pace = new Pace(job);
  const rate = new Rate(job);
  const at = { loss: -1, save: -Infinity };
  const leave = () => { if (st.disposeWhenIdle) { st.disposeWhenIdle = false; freeJob(); } };
  try {
    while (!st.stopped) {
      if (st.state === 'paused') {
        await new Promise((r) => (st.resumeGate = r));
        rate.restart(job);
        continue;
      }
      if (job.remaining === 0) {
        if (job.atLastScale || !(await nextScale(st, pace, emit))) break;
        Object.assign(at, { loss: -1, save: -Infinity });
        continue;
      }
      // The weights the batch runs with (a steer() during it applies to the next one).
      const weights = { content_weight: st.settings.content_weight, style_weight: st.settings.style_weight };
      await pace.submit(job);
      await sampleLosses(st, at, weights, emit);
      await draw2d(st);
      if (job.iteration - at.save >= 25 || job.remaining === 0) {
        await checkpoint(st);
        at.save = job.iteration;
      }
      progress(st, rate, emit);
      await tick();
    }
    await pace.drain();
    await checkpoint(st);
    const result = { width: job.width, height: job.height, iteration: runIterations(st).done, stopped: st.stopped };
    if (!finish) return result;
    st.state = 'done';
    leave();
    emit('done', result);
    return result;
  } catch (e) {
    st.state = 'failed';
    leave();
    emit('error', e);
    throw e;
  }
}
