// typed-example.ts — every public name of the stylize package used from TypeScript, with its
// types. Only type-checked (tsc --noEmit --strict with tsconfig.json beside it, against the
// package as installed: `stylize` → stylize-api.d.ts, `stylize/element` → style-transfer.d.ts),
// never run. The `@ts-expect-error` lines check that the declarations refuse what the API refuses.

import {
  StyleTransfer,
  WEIGHTS_SHA256,
  WEIGHTS_URL,
  decodeImage,
  fetchWeights,
  liveSessionCount,
  liveSessionGpuBytes,
  loadWasm,
  namedError,
  readRecord,
  rgbaToPng,
  setBaseUrl,
  sha256Hex,
  webgpuStatus,
  MAX_FRAMES,
  decodeVideo,
  encodeVideo,
  probeVideo,
  videoCodec,
  videoDefaults,
  zipFrames,
} from 'stylize';
import type {
  AnyStylizeError,
  FrameDetail,
  VideoCodecChoice,
  VideoFrameResult,
  CreateOptions,
  DecodedImage,
  FallbackDetail,
  LastGoodImage,
  LossesDetail,
  Plan,
  ProgressDetail,
  Region,
  RunInputs,
  RunOptions,
  RunRecord,
  RunResult,
  RunState,
  ScaleDetail,
  Settings,
  SettingsInit,
  SteerChanges,
  SteerDetail,
  SteerableSettingName,
  StylizeError,
  StylizeErrorName,
  TooLargeError,
  Variant,
  WeightsError,
  WebGPUStatus,
} from 'stylize';
import 'stylize/element';
import type { StyleTransferElement, StyleTransferElementAttribute, StyleTransferElementAttributes } from 'stylize/element';

const log = (...args: unknown[]): void => console.log(...args);

/** Narrows what a `catch` caught to a stylize error (any Error with one of the names). */
const NAMES: readonly StylizeErrorName[] = ['NoWebGPU', 'NoAdapter', 'Device', 'Weights', 'Image', 'Settings', 'TooLarge', 'Kernel', 'Gpu', 'DeviceLost', 'NotFinite', 'Busy', 'Encode'];
function isStylizeError(e: unknown): e is AnyStylizeError {
  return e instanceof Error && (NAMES as readonly string[]).includes(e.name);
}

/** What a person is told for each error: the names narrowed, TooLarge's `fits` read. */
function explain(e: unknown): string {
  if (!isStylizeError(e)) return `unexpected: ${String(e)}`;
  switch (e.name) {
    case 'TooLarge': {
      const fits: number = e.fits; // required on TooLarge
      return fits > 0 ? `Too large; ${fits} px fits.` : 'Too large for this GPU at any size.';
    }
    case 'NoWebGPU':
    case 'NoAdapter':
    case 'Device':
      return `No usable GPU: ${e.message}`;
    case 'Weights': {
      const url: string | undefined = e.url;
      const status: number | undefined = e.status;
      return `Weights from ${url ?? '(not a URL)'}${status ? ` (HTTP ${status})` : ''}: ${e.message}`;
    }
    case 'Image':
    case 'Settings':
    case 'Busy':
    case 'Encode':
    case 'NoImage':
      return e.message;
    case 'DeviceLost':
    case 'Gpu':
    case 'Kernel':
      return `The GPU failed (${e.name}); try recover().`;
    case 'NotFinite':
      return 'The optimisation diverged; lower lr or the weights.';
    case 'Video':
      return `The video: ${e.message}`;
    case 'NoEncoder':
      return 'No video encoder here: the frames come as a ZIP.';
    default: {
      const never: never = e; // every name handled
      return never;
    }
  }
}

/** setBaseUrl, webgpuStatus, loadWasm, the weights' constants, fetchWeights, sha256Hex, create with every option. */
export async function engine(canvasForLater: HTMLCanvasElement): Promise<StyleTransfer | null> {
  setBaseUrl('https://cdn.example.com/stylize/');
  setBaseUrl(new URL('./vendor/stylize/', location.href));

  const status: WebGPUStatus = await webgpuStatus();
  if (!status.ok) {
    log(status.message);
    // @ts-expect-error: `fallback` exists only when ok
    log(status.fallback);
    return null;
  }
  const slow: boolean = status.fallback;
  log(slow ? 'software adapter' : 'hardware', status.message);

  const wasm: unknown = await loadWasm();
  log(wasm);

  const expected: string = WEIGHTS_SHA256;
  const where: string = WEIGHTS_URL;
  const bytes: Uint8Array = await fetchWeights({
    url: new URL(where),
    onProgress: (got: number, total: number, fromCache: boolean) => log(got, total, fromCache),
  });
  let again: Uint8Array = await fetchWeights();
  try {
    again = await fetchWeights({ url: 'weights/mirror.safetensors' });
  } catch (e) {
    if (isStylizeError(e) && e.name === 'Weights') {
      const we: WeightsError = e;
      log(we.url, we.status);
    }
  }
  log((await sha256Hex(bytes)) === expected, await sha256Hex(again), await sha256Hex(new ArrayBuffer(0)));

  const options: CreateOptions = {
    weightsUrl: 'https://weights.example.com/vgg19-conv-f16.safetensors',
    onWeightsProgress: (got, total, fromCache) => log(`${fromCache ? 'cached' : 'downloading'} ${got}/${total || '?'}`),
    conv: 'tiled+winograd',
    precision: 'f16',
    breakKernels: null,
    memoryBudget: 1 << 30,
  };
  const st = await StyleTransfer.create(options);
  const fromBytes = await StyleTransfer.create({ weights: bytes, weightsUrl: new URL('https://x.example/w.safetensors'), conv: 'direct', precision: 'f32', breakKernels: 'winograd' });
  fromBytes.close();
  const plain = await StyleTransfer.create();
  plain.close();
  // @ts-expect-error: precision is 'f32' or 'f16'
  await StyleTransfer.create({ precision: 'f64' });
  // @ts-expect-error: made by create(), not new
  new StyleTransfer();

  log(canvasForLater.width, liveSessionCount(), liveSessionGpuBytes());
  return st;
}

/** The engine's properties, defaults, steerable list, plan, memory budget, sibling. */
export function inspect(st: StyleTransfer, content: DecodedImage, style: DecodedImage): void {
  const defaults: Settings = StyleTransfer.defaults();
  const names: SteerableSettingName[] = StyleTransfer.steerable;
  log(defaults.size, defaults.style_layer_weights[4], defaults.lr ?? 'optimizer default', names.includes('style_weight'));

  const v: Variant = st.variant;
  const precision: 'f32' | 'f16' = v.precision;
  log(v.conv, precision, st.adapter, st.adapterSummary, st.options.conv, st.options.precision, st.options.breakKernels);
  log(st.notes.join('; '), st.previewMode);
  st.previewMode = '2d';

  const budget: number = st.memoryBudget;
  st.memoryBudget = budget / 2;

  const plan: Plan = st.plan(content, [style, style], { size: 1024, style_blend: [0.5, 0.5] });
  if (!plan.fits) log(`use ${plan.maxSize} px`);
  log(plan.width, plan.height, plan.styleWidth, plan.styleHeight, plan.totalBytes, plan.peakBytes, plan.largestBytes,
    plan.limitBytes, plan.bufferLimitBytes, plan.budgetBytes ?? 'no budget', plan.tiles, plan.tileSize, plan.halo);
  for (const s of plan.scales ?? []) log(s.width, s.height, s.iterations, s.optimizer, s.work);

  const state: RunState = st.state;
  const busy: boolean = st.busy;
  log(state, busy, st.settings?.size, st.history.length, st.steers.length);
  const inputs: RunInputs | null = st.inputs;
  log(inputs?.content.width, inputs?.canvas, inputs?.init, inputs?.mask, inputs?.styleMasks);
  const last: LastGoodImage | null = st.lastGood;
  if (last) log(last.runIteration, last.scale, last.iteration, last.data.length);
  // @ts-expect-error: state is read-only (pause(), resume(), stop() change it)
  st.state = 'paused';

  const twin: StyleTransfer = st.sibling();
  twin.dispose();
  twin.close();
}

/** Every event, its detail's fields typed; add and remove. */
export function listen(st: StyleTransfer): () => void {
  const onProgress = (e: CustomEvent<ProgressDetail>): void => {
    const { iteration, iterations, scale, scales, width, height, tiles, itPerSec, etaSeconds } = e.detail;
    const eta: string = etaSeconds === null ? '…' : `${Math.round(etaSeconds)} s`;
    log(`${scale + 1}/${scales} ${width}×${height} ${tiles} tiles ${iteration}/${iterations} ${itPerSec.toFixed(1)} it/s ETA ${eta}`);
  };
  st.addEventListener('progress', onProgress);
  st.addEventListener('scale', (e) => {
    const d: ScaleDetail = e.detail;
    log(d.scale, d.scales, d.width, d.height, d.iterations);
  });
  st.addEventListener('losses', (e) => {
    const d: LossesDetail = e.detail;
    log(d.iteration, d.content, d.style, d.tv, d.total, d.scale, d.scaleIteration, d.content_weight, d.style_weight);
  });
  st.addEventListener('steer', (e) => {
    const d: SteerDetail = e.detail;
    log(d.iteration, d.changes.style_weight, d.changes.style_blend);
  });
  st.addEventListener('fallback', (e) => {
    const d: FallbackDetail = e.detail;
    log(`${d.from.conv}/${d.from.precision} → ${d.to.conv}/${d.to.precision}: ${d.message}`);
  });
  st.addEventListener('done', function (e) {
    const r: RunResult = e.detail;
    const self: StyleTransfer = this;
    log(r.width, r.height, r.iteration, r.stopped, self.state);
  }, { once: true });
  st.addEventListener('error', (e) => {
    const err: AnyStylizeError = e.detail;
    log(err.name, err.message, explain(err));
  });
  // Any other type is a plain Event.
  st.addEventListener('something-else', (e: Event) => log(e.type));
  st.addEventListener('progress', (e) => {
    // @ts-expect-error: progress has no `total` (losses has)
    log(e.detail.total);
    // @ts-expect-error: etaSeconds is null until a rate is known
    log(Math.round(e.detail.etaSeconds));
  });
  return () => st.removeEventListener('progress', onProgress);
}

/** run with every input kind, steer, pause/resume/stop, continueLarger, image, record, pngBlob, recover. */
export async function runs(st: StyleTransfer, canvas: HTMLCanvasElement, photo: File, starryUrl: string, screamUrl: URL, maskFile: Blob, paintingMaskUrl: string): Promise<Blob | null> {
  const content: DecodedImage = await decodeImage(photo);
  const starry = await decodeImage(starryUrl, 1024);
  const scream = await decodeImage(screamUrl);
  const mask = await decodeImage(maskFile);
  const paintingMask = await decodeImage(paintingMaskUrl);
  log(content.name, content.sha256 ?? 'no hash outside secure contexts', content.width, content.height, content.data.byteLength);

  // One painting, every setting.
  const settings: SettingsInit = {
    size: 512, iterations: 300, content_weight: 1, style_weight: 30, tv_weight: 20, temporal_weight: 0,
    style_layer_weights: [1, 0.75, 0.2, 0.2, 0.2], lr: null, optimizer: 'lbfgs', history: 10,
    average: false, resample_moments: false, scales: 0, min_size: 128, schedule: [],
    init: 'content', seed: 0, pooling: 'max', style_scale: 1, colors: 'painting',
    style_blend: [], style_scales: [], regions: [], tile_size: 0, tile_mode: 'exact', tile_halo: 0,
  };
  const one: RunResult = await st.run({ content, style: starry, settings, canvas });
  log(one.width, one.height, one.iteration, one.stopped);

  // Several paintings blended, Adam with a schedule, other enum values.
  await st.run({
    content, style: [starry, scream], canvas: null,
    settings: { style_blend: [0.7, 0.3], style_scales: [1, 0.5], optimizer: 'adam', lr: 4, schedule: [[128, 300], [256, 200]], init: 'noise', seed: 7, pooling: 'avg', colors: 'luminance', tile_mode: 'fast', tile_size: 256, tile_halo: 32 },
  });

  // A mask with regions: red takes painting 0, blue keeps the photo, the rest takes painting 0.
  const regions: Region[] = [{ color: [255, 0, 0], painting: 0 }, { color: [0, 0, 255], painting: null }, { color: [0, 255, 0] }];
  await st.run({ content, style: [starry, scream], mask, settings: { regions, colors: 'match' } });

  // Style masks: per painting (null: none), in the regions' colours.
  const withMasks: RunOptions = { content, style: [starry, scream], mask, styleMasks: [paintingMask, null], settings: { regions, colors: 'swap' }, canvas };
  const running = st.run(withMasks);

  // Steering while it runs (every steerable setting), then pause, resume, stop.
  const changes: SteerChanges = { style_weight: 300, content_weight: 2, tv_weight: 10, style_layer_weights: [1, 1, 0.5, 0.5, 0.5], lr: 0.5, style_blend: [0.5, 0.5] };
  st.steer(changes);
  // @ts-expect-error: size cannot change during a run
  st.steer({ size: 1024 });
  st.pause();
  st.resume();
  st.stop();
  const stopped = await running;
  log(stopped.stopped);

  // @ts-expect-error: not a setting
  await st.run({ content, style: starry, settings: { strength: 30 } });
  // @ts-expect-error: colors is one of four names
  await st.run({ content, style: starry, settings: { colors: 'sepia' } });
  // @ts-expect-error: content is required
  await st.run({ style: starry });

  // Starting from an image, and continue larger.
  const current = await st.image();
  await st.run({ content, style: starry, init: { data: current.data, width: current.width, height: current.height } });
  const larger: RunResult = await st.continueLarger(1024);
  await st.continueLarger(2048, { iterations: 150, style_weight: 100 });
  log(larger.width);

  // Recovery after a device loss.
  try {
    st.simulateDeviceLoss();
    await st.run({ content, style: starry });
  } catch (e) {
    if (isStylizeError(e) && (e.name === 'DeviceLost' || e.name === 'Gpu')) {
      const resumed: RunResult = await st.recover();
      log(resumed.iteration);
    } else {
      log(explain(e));
    }
  }

  // The result, its record, PNGs.
  const record: RunRecord | null = st.record();
  if (record) {
    log(record.stylize, record.settings.size, record.content.name, record.content.sha256, record.style.name, record.adapter,
      record.more_paintings?.length, record.mask?.sha256, record.style_masks?.map((m) => m?.name ?? '-'));
  }
  const png: Blob = await st.pngBlob();
  const back: RunRecord | null = await readRecord(png);
  log(back?.settings.style_blend);
  const plainPng: Blob = await rgbaToPng(current);
  const recorded: Blob = await rgbaToPng({ data: new Uint8ClampedArray(4), width: 1, height: 1 }, {
    stylize: '0.1.0', settings: { size: 64 }, content: { name: 'a.png', sha256: '' }, style: { name: 'b.png', sha256: '' }, adapter: 'test',
  });
  log(plainPng.size, recorded.size, await rgbaToPng(current, record));

  st.dispose();
  st.close();
  return png;
}

/** Errors: the names narrowed in a catch; namedError as the API makes them. */
export async function errors(st: StyleTransfer, content: DecodedImage, style: DecodedImage): Promise<void> {
  try {
    await st.run({ content, style, settings: { size: 4096 } });
  } catch (e) {
    if (isStylizeError(e) && e.name === 'TooLarge') {
      const tl: TooLargeError = e;
      if (tl.fits > 0) await st.run({ content, style, settings: { size: tl.fits } });
    } else {
      log(explain(e));
    }
  }
  const busy = namedError('Busy', 'A run is already in progress.');
  const name: 'Busy' = busy.name;
  const tooLarge = namedError('TooLarge', 'too large', { fits: 512 });
  const fits: number = tooLarge.fits;
  const generic: StylizeError = { name: 'Settings', message: 'bad', fits: undefined };
  const some: StylizeError<'Image' | 'Settings'> = { name: 'Image', message: 'unreadable' };
  // @ts-expect-error: not a stylize error name
  const bad: StylizeErrorName = 'Oops';
  log(name, fits, generic.name, some.name, bad);
}

/** The element: created through the tag map, every attribute, methods, events. */
export async function element(): Promise<void> {
  const el: StyleTransferElement = document.createElement('style-transfer');
  const found: StyleTransferElement | null = document.querySelector('style-transfer');
  log(found?.st?.state);

  const attributes: StyleTransferElementAttributes = {
    'content-src': 'photo.jpg',
    'style-src': 'starry.jpg scream.jpg',
    'style-blend': '0.7 0.3',
    'style-scale': '0.5',
    colors: 'luminance',
    size: '512',
    iterations: '300',
    strength: '30',
    scales: '0',
    optimizer: 'adam',
    'mask-src': 'mask.png',
    regions: '#ff0000=2 #0000ff=photo',
    'style-mask-src': 'starry-mask.png -',
    'weights-src': 'https://weights.example.com/vgg19-conv-f16.safetensors',
    'video-src': 'clip.webm',
    fps: '12',
    'frame-iterations': '60',
    'temporal-weight': '100',
    autostart: '',
  };
  for (const [name, value] of Object.entries(attributes) as Array<[StyleTransferElementAttribute, string]>) el.setAttribute(name, value);
  log(StyleTransferElementStatic());

  el.addEventListener('progress', (e) => {
    const d: ProgressDetail = e.detail;
    log(d.iteration, d.iterations, d.scale, d.scales, d.width, d.height, d.itPerSec, d.etaSeconds, d.tiles);
  });
  el.addEventListener('scale', (e) => log(e.detail.scale, e.detail.scales, e.detail.width, e.detail.height, e.detail.iterations));
  el.addEventListener('losses', (e) => log(e.detail.iteration, e.detail.content, e.detail.style, e.detail.tv, e.detail.temporal, e.detail.total, e.detail.scaleIteration));
  el.addEventListener('steer', (e) => log(e.detail.iteration, e.detail.changes));
  el.addEventListener('fallback', (e) => log(e.detail.from, e.detail.to, e.detail.message));
  el.addEventListener('frame', (e) => log(e.detail.frame, e.detail.frames, e.detail.image, e.detail.temporalError));
  el.addEventListener('done', async function (e) {
    const r: RunResult = e.detail;
    const png: Blob = await this.pngBlob();
    log(r.width, r.height, r.iteration, r.stopped, png.size);
  });
  const onError = (e: CustomEvent<AnyStylizeError>): void => log(explain(e.detail));
  el.addEventListener('error', onError);
  el.removeEventListener('error', onError);
  // The inherited HTMLElement events keep their types.
  el.addEventListener('click', (e) => log(e.clientX));
  document.body.append(el);

  const canvas: HTMLCanvasElement = el.canvas;
  const message: HTMLParagraphElement = el.message;
  log(canvas.width, message.textContent);

  try {
    const r = await el.start();
    if ('width' in r) log(r.width, r.height, r.iteration, r.stopped);
    else log('left the page before its run began', r.stopped);
  } catch (e) {
    log(explain(e));
  }
  el.steer({ style_weight: 100, style_blend: [0.5, 0.5] });
  // @ts-expect-error: only steerable settings
  el.steer({ iterations: 5 });
  el.pause();
  el.resume();
  el.stop();
  const blob: Blob = await el.pngBlob();
  const clip: Blob = await el.videoBlob().catch(() => el.framesZip());
  log(blob.type, clip.type, el.st?.record());
  el.remove();
}

/** The class's static side, through the constructor a tag-map element has. */
function StyleTransferElementStatic(): string[] {
  const ctor = customElements.get('style-transfer') as (typeof import('stylize/element'))['StyleTransferElement'] | undefined;
  return ctor?.observedAttributes ?? [];
}

// Types only: a record's settings are complete Settings; a run takes any subset.
export const completeSettings = (r: RunRecord): Settings => r.settings;
export const someSettings: SettingsInit = { size: 128 };

/** A video: decoded, stylised with per-frame events, encoded (or zipped where it cannot be). */
export async function video(st: StyleTransfer, file: File, style: DecodedImage): Promise<Blob> {
  const clip = await decodeVideo(file, { fps: 12, start: 0, end: 3, maxSide: 256, onProgress: (done: number, total: number) => void [done, total] });
  const { frameIterations, temporalWeight }: { frameIterations: number; temporalWeight: number } = videoDefaults();
  st.addEventListener('frame', (e) => {
    const d: FrameDetail = e.detail;
    const err: number | null = d.temporalError;
    void [d.frame, d.frames, d.image.width, err];
  });
  st.addEventListener('progress', (e) => void [e.detail.frame, e.detail.frames, e.detail.frameEtaSeconds]);
  const r = await st.run({ video: clip.frames, style, settings: { size: 256 }, frameIterations, temporalWeight: temporalWeight * 2, independent: false });
  const n: number | undefined = r.frames;
  const frames: readonly VideoFrameResult[] = st.frames;
  void [n, frames[0]?.temporalError, MAX_FRAMES];
  const codec: VideoCodecChoice | null = await videoCodec(clip.width, clip.height);
  if (!codec) return zipFrames(frames);
  const blob = await encodeVideo(frames, { fps: clip.fps });
  const probe = await probeVideo(blob);
  void [probe.frames, probe.width];
  return blob;
}
