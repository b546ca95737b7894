// stylize-api.d.ts — hand-maintained declarations of the JavaScript API of stylize
// (stylize-api.js and the modules in api/ it re-exports). Keep them in step with those files and
// with the engine's settings (crate/settings.rs, parsed by crate/web.rs).
//
// No WebGPU types are needed: nothing here names a GPU* type.
//
//   import { StyleTransfer, decodeImage, webgpuStatus } from 'stylize';
//   const st = await StyleTransfer.create({ onWeightsProgress: (got, total) => {} });
//   st.addEventListener('progress', (e) => console.log(e.detail.iteration, e.detail.iterations));
//   const result = await st.run({ content: await decodeImage(file), style: await decodeImage(url),
//                                 settings: { size: 256, iterations: 300 }, canvas });

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * The `name` of an Error the API rejects (or fires an `error` event) with:
 * - `NoWebGPU`: this browser has no usable WebGPU (`create()`);
 * - `NoAdapter`: no GPU adapter was found;
 * - `Device`: the adapter refused to open a device with the limits the engine needs;
 * - `Weights`: the weights could not be downloaded, are corrupt (SHA-256) or are not the VGG19
 *   conv weights expected;
 * - `Image`: an input image could not be read or decoded (empty, truncated, absurd dimensions, not
 *   an image, not a PNG for `readRecord`);
 * - `Settings`: invalid settings, an unknown settings key, a setting `steer()` cannot change, a
 *   bad `conv`/`precision`, a bad `continueLarger()` size, 1 to 4 paintings not respected;
 * - `TooLarge`: the size does not fit this GPU (even in tiles); `fits` is the largest size that does;
 * - `Kernel`: a GPU kernel failed to compile and no fallback was left;
 * - `Gpu`: a GPU validation or out-of-memory error;
 * - `DeviceLost`: the GPU device was lost (driver reset, the browser reclaimed it): `recover()`;
 * - `NotFinite`: the loss became NaN or infinite (lower the step or the loss weights);
 * - `Busy`: a run is already in progress on this StyleTransfer (or element);
 * - `Encode`: PNG encoding failed in the worker;
 * - `NoImage`: `image()` / `pngBlob()` before any image exists;
 * - `Video`: a video the browser cannot play, a range with no frame or more than `MAX_FRAMES`,
 *   an empty `video` list;
 * - `NoEncoder`: `encodeVideo()` where WebCodecs encodes none of VP9, VP8, AV1, H.264.
 */
export type StylizeErrorName =
  | 'NoWebGPU'
  | 'NoAdapter'
  | 'Device'
  | 'Weights'
  | 'Image'
  | 'Settings'
  | 'TooLarge'
  | 'Kernel'
  | 'Gpu'
  | 'DeviceLost'
  | 'NotFinite'
  | 'Busy'
  | 'Encode'
  | 'NoImage'
  | 'Video'
  | 'NoEncoder';

/** An Error whose `name` says what failed (see {@link StylizeErrorName}). */
export interface StylizeError<N extends StylizeErrorName = StylizeErrorName> extends Error {
  name: N;
  /** `TooLarge` only: the largest longer side (px) that fits at the same aspect ratio; 0 when none does. */
  fits?: number;
  /** `Weights` only: the URL the weights were to come from (absent when it was not a URL). */
  url?: string;
  /** `Weights` only: the HTTP status of a download that failed with one. */
  status?: number;
}

/** A `TooLarge` error: the requested size does not fit this GPU's limits or memory budget. */
export interface TooLargeError extends StylizeError<'TooLarge'> {
  /** The largest longer side (px) whose plan fits at the same aspect ratio; 0 when none does. */
  fits: number;
}

/** A `Weights` error: the weights could not be downloaded, or are not stylize's (SHA-256). */
export interface WeightsError extends StylizeError<'Weights'> {
  /** The (absolute) URL the weights were to come from; absent when the URL given was not one. */
  url?: string;
  /** The HTTP status, when the server answered with an error. */
  status?: number;
}

/**
 * Any stylize error, discriminated by `name` (`if (e.name === 'TooLarge') e.fits`). What the API
 * rejects with is typed `unknown` by TypeScript's `catch`; an unexpected failure (a bug, a browser
 * error) may carry another name.
 */
export type AnyStylizeError = TooLargeError | WeightsError | StylizeError<Exclude<StylizeErrorName, 'TooLarge' | 'Weights'>>;

// ---------------------------------------------------------------------------------------------
// Settings (crate/settings.rs: `Settings`; field names are the engine's, snake_case)

/** The optimiser of the image's pixels. */
export type Optimizer =
  /** Adam (β₁ 0.9, β₂ 0.999), default step 4; needs about twice L-BFGS's iterations. */
  | 'adam'
  /** L-BFGS with a fixed step (default 1) and a safeguard, entirely on the GPU (the default). */
  | 'lbfgs';

/** How the image being optimised starts: the content photo, or uniform white noise (seeded). */
export type Init = 'content' | 'noise';

/** 2×2 pooling between blocks: max (the network as trained) or average. */
export type Pooling = 'max' | 'avg';

/**
 * Whose colours the result has (Gatys et al. 2017, §5):
 * - `painting`: the painting's (the method as published in 2016);
 * - `luminance`: the photo's, by luminance-only transfer (YIQ), shown with the photo's chroma;
 * - `match`: the photo's, by matching the painting's palette (mean and covariance of RGB) to the photo's;
 * - `swap`: the photo's, as a post-process: the result's luminance with the photo's chroma.
 */
export type Colors = 'painting' | 'luminance' | 'match' | 'swap';

/**
 * How the network runs over tiles: `exact` (two passes per iteration, equal to the untiled
 * computation) or `fast` (one pass with the previous iteration's Gram matrices and narrower
 * halos: about half the work, approximate gradients).
 */
export type TileMode = 'exact' | 'fast';

/** An RGB colour, each channel 0..255. */
export type RGB = [number, number, number];

/** One region of a region mask: the mask's pixels near `color` and what they match. */
export interface Region {
  /** The region's colour in the mask, [r, g, b], each 0..255. */
  color: RGB;
  /**
   * The painting the region matches: an index into the run's paintings (0-based, less than the
   * number of paintings); null (or left out): the region keeps the photo (content only).
   */
  painting?: number | null;
}

/**
 * Everything that defines a run, as `StyleTransfer.defaults()` returns it and a result's record
 * carries it. The defaults are the tuned recipe (README.md, "Defaults"). A run takes any subset
 * ({@link SettingsInit}); keys not listed here are rejected with `Settings`, as are values out of
 * the ranges given.
 */
export interface Settings {
  /** Longer side of the output in pixels, 16 to 4096. Default 256. */
  size: number;
  /**
   * Optimisation steps at the final scale, 0 to 1,000,000. The smaller scales of a coarse-to-fine
   * run get min(2, √2^k) times as many (scale k below the final one). Default 100.
   */
  iterations: number;
  /** α: weight of the content loss (mean squared error of relu4_2 features); finite, ≥ 0. Default 1. Steerable. */
  content_weight: number;
  /** β: weight of the style loss (Σ_l w_l · mean squared error of Gram matrices); finite, ≥ 0. Default 30. Steerable. */
  style_weight: number;
  /** τ: weight of the total-variation loss (on the 0..255-scale image); finite, ≥ 0. Default 20. Steerable. */
  tv_weight: number;
  /**
   * γ: weight of the temporal loss of a video frame after the first (the mean over the image of
   * c·(x − w)², w the previous frame's result warped into this frame by the optical flow, c where
   * that flow is reliable); finite, ≥ 0. Default 0 (none). The page does not take video yet: a
   * γ > 0 without a previous frame is a `Settings` error.
   */
  temporal_weight: number;
  /**
   * w_l, the style loss's weight of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1; each finite, ≥ 0.
   * Default [1, 0.75, 0.2, 0.2, 0.2]. Steerable.
   */
  style_layer_weights: [number, number, number, number, number];
  /**
   * The optimiser's step in pixel units (0..255 scale); > 0 and finite. null: the optimiser's
   * default (4 for Adam, 1 for L-BFGS). Default null. Steerable.
   */
  lr: number | null;
  /** The optimiser. Default 'lbfgs'. */
  optimizer: Optimizer;
  /** L-BFGS correction pairs kept, 1 to 50. Default 10. */
  history: number;
  /**
   * Show and save the bias-corrected exponential moving average of the iterates (decay 0.99)
   * instead of the last iterate; each new scale starts from it. Default false.
   */
  average: boolean;
  /**
   * Between scales, resample Adam's moments to the new size (and keep its step count) instead of
   * starting them afresh. Default false.
   */
  resample_moments: boolean;
  /**
   * Coarse-to-fine scales, 0 to 12: 0 = as many as fit from `min_size` up in steps of √2; 1 = one
   * scale (the requested size only); N = the N sizes size/√2^(N−1) … size. Default 0.
   */
  scales: number;
  /** The smallest scale's longer side in pixels when `scales` is 0, 16 to 4096. Default 128. */
  min_size: number;
  /**
   * An explicit schedule of [longer side (px, 16 to 4096), iterations (≤ 1,000,000)] per scale,
   * sizes strictly ascending; overrides `size`, `iterations` and `scales` when not empty.
   * Default [].
   */
  schedule: Array<[size: number, iterations: number]>;
  /** The starting image. Default 'content'. */
  init: Init;
  /** Seed of the noise initialisation (an unsigned integer; exact up to 2^53 in JavaScript). Default 0. */
  seed: number;
  /** Pooling between blocks. Default 'max'. */
  pooling: Pooling;
  /**
   * The painting's size relative to the output: its longer side is resized to size × style_scale;
   * 0.1 to 4. Default 1.
   */
  style_scale: number;
  /** Whose colours the result has. Default 'painting'. */
  colors: Colors;
  /**
   * Blend weights of several paintings (at most 4), in their order; each finite and ≥ 0 with a
   * positive sum; normalised to sum 1. Its length is the number of paintings; empty: one painting.
   * `run()` fills in equal weights when several paintings are given without it. Default []. Steerable
   * (as many weights as paintings).
   */
  style_blend: number[];
  /** Each painting's own scale, 0.1 to 4 (`style_scale` for those not listed); at most 4. Default []. */
  style_scales: number[];
  /**
   * Region control: the colours of the region mask given with the run (`mask`) and what each
   * region matches; the mask's other pixels take the first painting. At most 4. Empty: none.
   * Default [].
   */
  regions: Region[];
  /**
   * Tile cores of this many pixels: a multiple of 16 up to 4096; 0 = tiles only when the whole
   * image does not fit the memory budget. Default 0.
   */
  tile_size: number;
  /** How tiles run. Default 'exact'. */
  tile_mode: TileMode;
  /** Tile halo in pixels: a multiple of 16 up to 4096; 0 = the tile mode's. Default 0. */
  tile_halo: number;
}

/** Settings as a run takes them: any subset of {@link Settings}; the rest are the defaults. */
export type SettingsInit = Partial<Settings>;

/** The names of the settings a live run can change (`StyleTransfer.steerable`). */
export type SteerableSettingName = 'content_weight' | 'style_weight' | 'tv_weight' | 'style_layer_weights' | 'lr' | 'style_blend';

/** What `steer()` takes: any of the steerable settings; any other key throws `Settings`. */
export type SteerChanges = Partial<Pick<Settings, SteerableSettingName>>;

// ---------------------------------------------------------------------------------------------
// Images and records

/** An RGBA8 image: `width × height × 4` bytes, row by row. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * An input image of a run: RGBA8 pixels, with the name and SHA-256 a result's record names it by
 * (as `decodeImage()` gives them; `'image'` and `''` when left out).
 */
export interface ImageInput extends RgbaImage {
  name?: string;
  sha256?: string | null;
}

/** What `decodeImage()` resolves to. */
export interface DecodedImage extends ImageInput {
  data: Uint8Array;
  /** The file's name (a File's, or the URL's last part). */
  name: string;
  /** Hex SHA-256 of the file's bytes; null outside secure contexts (no crypto.subtle). */
  sha256: string | null;
}

/** An image a StyleTransfer holds: the current or last good one. */
export interface ResultImage extends RgbaImage {
  data: Uint8Array;
}

/** The last good image a run kept (every 25 iterations and at each scale's end), for recovery. */
export interface LastGoodImage extends ResultImage {
  /** Iterations at its scale. */
  iteration: number;
  /** Its scale's index in the job (0-based). */
  scale: number;
  /** Iterations of the whole run when it was kept. */
  runIteration: number;
}

/** One input image in a record: its file name and the hex SHA-256 of its bytes. */
export interface InputRecord {
  name: string;
  sha256: string;
}

/** What a result was made from: everything needed to make it again. Carried inside its PNG. */
export interface RunRecord {
  /** The stylize version that made it. */
  stylize: string;
  /** Every setting of the run. */
  settings: Settings;
  /** The photo. */
  content: InputRecord;
  /** The painting (the first, when several are blended). */
  style: InputRecord;
  /** The further paintings blended, in order (absent for one painting). */
  more_paintings?: InputRecord[];
  /** The region mask, with `settings.regions`. */
  mask?: InputRecord;
  /** Each painting's style mask, in the paintings' order (null: that painting has none); absent when none has one. */
  style_masks?: Array<InputRecord | null>;
  /** The GPU adapter (name and backend) and the kernels' conv path and storage. */
  adapter: string;
}

/** A record as `rgbaToPng()` takes it: the settings may be a subset (the rest are the defaults). */
export interface RunRecordInit extends Omit<RunRecord, 'settings'> {
  settings: SettingsInit;
}

// ---------------------------------------------------------------------------------------------
// Runs

/** The lifecycle of a StyleTransfer's run. */
export type RunState = 'idle' | 'starting' | 'running' | 'paused' | 'done' | 'failed';

/** What `run()` takes: a photo, or a video. */
export type RunOptions = PhotoRunOptions | VideoRunOptions;

/** What `run()` takes for a photo or a video alike. */
export interface RunOptionsBase {
  /** The painting, or 1 to 4 paintings to blend (weighted by `settings.style_blend`, equal by default). */
  style: ImageInput | readonly ImageInput[];
  /** Any subset of the settings; the rest are `StyleTransfer.defaults()`. */
  settings?: SettingsInit;
  /**
   * Where the live preview is drawn (sized to each scale): a canvas with no context yet, which the
   * GPU draws into (on software adapters a 2D context fed by a readback after each batch).
   */
  canvas?: HTMLCanvasElement | null;
  /** The region mask for `settings.regions` (any size; it is resized to the output). */
  mask?: ImageInput | null;
  /**
   * Style masks: per painting, a mask in the regions' colours (null for a painting without one);
   * each region then matches its part of that painting.
   */
  styleMasks?: ReadonlyArray<ImageInput | null> | null;
}

/** `run()` on a photo. */
export interface PhotoRunOptions extends RunOptionsBase {
  /** The photo (e.g. from `decodeImage()`). */
  content: ImageInput;
  /** An image to start from: the scales smaller than it are skipped (as `continueLarger()` does). */
  init?: RgbaImage | null;
  video?: null;
}

/**
 * `run()` on a video: its frames (all one size, e.g. `decodeVideo()`'s) stylised in turn so that
 * they agree with each other (optical flow and the temporal loss). The first frame runs with
 * `settings`; each later one `frameIterations` at the final size from the previous result warped
 * into it.
 */
export interface VideoRunOptions extends RunOptionsBase {
  video: readonly RgbaImage[];
  content?: undefined;
  /** Iterations of each frame after the first (default `videoDefaults().frameIterations`). */
  frameIterations?: number;
  /** γ, the temporal loss's weight (default `videoDefaults().temporalWeight`; 0: warped start only). */
  temporalWeight?: number;
  /** Every frame its own run with `settings`, no flow (it flickers; for comparison). Default false. */
  independent?: boolean;
}

/** The inputs of the current (or last) run, as `run()` was given them. */
export interface RunInputs {
  content: ImageInput;
  style: ImageInput | readonly ImageInput[];
  canvas: HTMLCanvasElement | null;
  init: RgbaImage | null;
  mask: ImageInput | null;
  styleMasks: ReadonlyArray<ImageInput | null> | null;
}

/** What `run()`, `continueLarger()` and `recover()` resolve to, and the `done` event's detail. */
export interface RunResult {
  /** The result's width in pixels. */
  width: number;
  /** The result's height in pixels. */
  height: number;
  /** Iterations run, over all scales. */
  iteration: number;
  /** Whether `stop()` (or `dispose()`) ended the run early. */
  stopped: boolean;
  /** A video run only: the frames finished (a frame stopped midway is not kept). */
  frames?: number;
}

/** A finished frame of a video run (`StyleTransfer.frames`). */
export interface VideoFrameResult extends RgbaImage {
  data: Uint8Array;
  /** What it was made from (its PNG in `zipFrames()` carries it). */
  record: RunRecord;
  /** Iterations it ran. */
  iterations: number;
  /** Mean |Oₜ − warp(Oₜ₋₁)| over the pixels where the flow is reliable (0..255); null for the first frame. */
  temporalError: number | null;
  /** The share of the frame where the flow is reliable; null for the first frame. */
  reliable: number | null;
  /** Seconds it took. */
  seconds: number;
}

/** `frame`: a video frame is done. */
export interface FrameDetail {
  /** Its index (0-based). */
  frame: number;
  /** How many frames the video has. */
  frames: number;
  image: RgbaImage;
  temporalError: number | null;
  reliable: number | null;
  seconds: number;
}

/** The conv implementation and storage an engine runs. */
export interface Variant {
  /** The conv path and algorithm joined by `+`, e.g. `tiled+winograd`, `direct+gemm`. */
  conv: string;
  /** The storage of activations and weights. */
  precision: 'f32' | 'f16';
}

/** One scale of a planned run. */
export interface PlanScale {
  width: number;
  height: number;
  iterations: number;
  /** The run's optimiser, or 'adam' where L-BFGS does not fit the memory budget. */
  optimizer: Optimizer;
  /** The network's work per iteration in pixels (more than width × height over tiles). */
  work: number;
}

/** The memory plan of a run's largest (final) scale: what `plan()` returns. */
export interface Plan {
  /** The output's size in pixels. */
  width: number;
  height: number;
  /** The (largest) painting's size at that scale. */
  styleWidth: number;
  styleHeight: number;
  /** The plan's total bytes. */
  totalBytes: number;
  /** The plan's peak bytes plus the weights. */
  peakBytes: number;
  /** The largest buffer's bytes. */
  largestBytes: number;
  /** The largest buffer a kernel binds whole, in bytes. */
  limitBytes: number;
  /** The largest whole-image buffer (bound in windows), in bytes. */
  bufferLimitBytes: number;
  /** The memory budget in bytes (null: none). */
  budgetBytes: number | null;
  /** Whether the run fits (whole or in tiles). */
  fits: boolean;
  /** The largest output size that fits when `fits` is false (0 when none does); otherwise `size`. */
  maxSize: number;
  /** Tiles per iteration; 0 when the network runs on the whole image. */
  tiles: number;
  /** The tiles' core size in pixels (0 without tiles). */
  tileSize: number;
  /** The tiles' halo in pixels (0 without tiles). */
  halo: number;
  /** The coarse-to-fine schedule, or null if a scale is invalid. */
  scales: PlanScale[] | null;
}

// ---------------------------------------------------------------------------------------------
// Events

/** `progress`: after each batch. Iterations count over all scales. */
export interface ProgressDetail {
  /** Iterations done, over all scales. */
  iteration: number;
  /** Iterations of the whole run. */
  iterations: number;
  /** The current scale's index (0-based). */
  scale: number;
  /** How many scales the run has. */
  scales: number;
  /** The current scale's size in pixels. */
  width: number;
  height: number;
  /** Tiles per iteration at this scale (1 when the network runs on the whole image). */
  tiles: number;
  /** Iterations per second, in the current scale's iterations. */
  itPerSec: number;
  /** Seconds left, weighted by each scale's work (a video: of the whole clip); null until a rate is known. */
  etaSeconds: number | null;
  /** A video run only: the frame (0-based) and the frame count; the current frame's own ETA. */
  frame?: number;
  frames?: number;
  frameEtaSeconds?: number | null;
}

/** `scale`: a scale begins. */
export interface ScaleDetail {
  /** Its index (0-based). */
  scale: number;
  /** How many scales the run has. */
  scales: number;
  /** Its size in pixels. */
  width: number;
  height: number;
  /** Its iterations. */
  iterations: number;
  /** A video run only: the frame (0-based) and the frame count. */
  frame?: number;
  frames?: number;
}

/** `losses`: a sample of the losses (every ~10 iterations and at a scale's end); also `history`'s entries. */
export interface LossesDetail {
  /** Iterations of the run (all scales) when measured. */
  iteration: number;
  /** mean (F − P)² at relu4_2. */
  content: number;
  /** Σ_l w_l · mean (G_l − A_l)². */
  style: number;
  /** Σ squared neighbour differences / (3·H·W). */
  tv: number;
  /** The temporal loss (0 without a previous video frame). */
  temporal: number;
  /** α·content + β·style + τ·tv (+ γ·temporal). */
  total: number;
  /** The scale's index (0-based). */
  scale: number;
  /** Iterations within the scale. */
  scaleIteration: number;
  /** α of the batch measured. */
  content_weight: number;
  /** β of the batch measured. */
  style_weight: number;
  /** A video run only: the frame (0-based) and the frame count. */
  frame?: number;
  frames?: number;
}

/** `steer`: `steer()` changed the live run (also `steers`' entries). */
export interface SteerDetail {
  /** Iterations of the run when it was steered; the changes apply from the next batch. */
  iteration: number;
  /** The settings changed. */
  changes: SteerChanges;
}

/** `fallback`: a kernel failed on this GPU; the run goes on with another variant on a new device. */
export interface FallbackDetail {
  from: Variant;
  to: Variant;
  /** Why (the compiler's message). */
  message: string;
}

/** The events of a StyleTransfer (CustomEvents; their `detail`s). */
export interface StyleTransferEventMap {
  progress: CustomEvent<ProgressDetail>;
  scale: CustomEvent<ScaleDetail>;
  losses: CustomEvent<LossesDetail>;
  steer: CustomEvent<SteerDetail>;
  fallback: CustomEvent<FallbackDetail>;
  /** A video frame is done. */
  frame: CustomEvent<FrameDetail>;
  done: CustomEvent<RunResult>;
  /** The run failed (to start or while running); `detail` is the Error, which the promise also rejects with. */
  error: CustomEvent<AnyStylizeError>;
}

// ---------------------------------------------------------------------------------------------
// StyleTransfer

/** What `StyleTransfer.create()` takes. */
export interface CreateOptions {
  /** The weights' bytes (a .safetensors file); left out or null: downloaded (see `weightsUrl`). */
  weights?: Uint8Array | null;
  /**
   * Where to download the weights (CORS); checked against `WEIGHTS_SHA256` and cached in Cache
   * Storage under that URL. Default: weights/vgg19-conv-f16.safetensors beside the package (see
   * `setBaseUrl`). A relative URL is resolved against the page's base URI. Ignored when `weights`
   * is given.
   */
  weightsUrl?: string | URL;
  /**
   * Called as the weights arrive: bytes received, total bytes (0 when unknown), and whether they
   * come from Cache Storage.
   */
  onWeightsProgress?: (receivedBytes: number, totalBytes: number, fromCache: boolean) => void;
  /**
   * Forces the conv implementation: `tiled` or `direct` kernels, `winograd`, `winograd2`,
   * `winograd4` or `gemm`, or one of each joined by `+` (`direct+gemm`). Default: chosen for the
   * adapter. A bad value rejects with `Settings`.
   */
  conv?: string | null;
  /**
   * Forces the storage of activations and weights. Default: f16 on GPUs with `shader-f16`, f32
   * elsewhere; f16 without `shader-f16` rejects with `Settings`.
   */
  precision?: 'f32' | 'f16' | null;
  /** Test hook: kernels whose name contains this fail to compile (exercises the fallback). */
  breakKernels?: string | null;
  /** The GPU memory a run may use, in bytes, weights included (see `memoryBudget`). */
  memoryBudget?: number;
}

/** What `StyleTransfer.create()` was asked for (`options`). */
export interface EngineOptions {
  conv?: string | null;
  precision?: 'f32' | 'f16' | null;
  breakKernels?: string | null;
}

/** A typed listener of a StyleTransfer event. */
export type StyleTransferListener<K extends keyof StyleTransferEventMap> = (this: StyleTransfer, ev: StyleTransferEventMap[K]) => any;

/**
 * A style-transfer engine on this page's GPU, and its runs. Made by `StyleTransfer.create()` (or
 * `sibling()`). Events: see {@link StyleTransferEventMap}. Its GPU memory is not seen by garbage
 * collection: `dispose()` a run, `close()` the engine, when done.
 */
export declare class StyleTransfer extends EventTarget {
  /** Use `StyleTransfer.create()` or `sibling()`. */
  private constructor();

  /**
   * Loads wasm and weights (given bytes, or downloaded with an integrity check and cached) and
   * opens the GPU. Rejects with `NoWebGPU`, `NoAdapter`, `Device`, `Weights` or `Settings`.
   */
  static create(options?: CreateOptions): Promise<StyleTransfer>;
  /** The engine's default settings (a new plain object). */
  static defaults(): Settings;
  /** The names of the settings `steer()` can change (the engine's list). */
  static get steerable(): SteerableSettingName[];

  /** What `create()` was asked for: {conv, precision, breakKernels}. */
  readonly options: EngineOptions;
  /**
   * How the live preview is drawn: 'webgpu' (the GPU draws into the canvas) or '2d' (a readback
   * after each batch; chosen on software adapters, or by the page's `?preview=`). Read at a run's start.
   */
  previewMode: 'webgpu' | '2d';
  /** The GPU fallbacks this engine took (a kernel its GPU could not compile), in words. */
  readonly notes: readonly string[];

  /** The run's state. */
  readonly state: RunState;
  /** The current (or last) run's settings, steering included; null before a run. */
  readonly settings: Settings | null;
  /** The current (or last) run's inputs; null before a run. */
  readonly inputs: RunInputs | null;
  /** The losses sampled during the current (or last) run, across scales. */
  readonly history: readonly LossesDetail[];
  /** Each `steer()` of the current (or last) run. */
  readonly steers: readonly SteerDetail[];
  /** The last good image kept (for `recover()`), or null. */
  readonly lastGood: LastGoodImage | null;

  /**
   * Another StyleTransfer on the same GPU device and weights (no second download or upload), for
   * a second run at the same time.
   */
  sibling(): StyleTransfer;

  /**
   * The GPU memory a run may use, in bytes, weights included (default: derived from the adapter,
   * 512 MiB to 2 GiB). A size whose whole network would not fit runs over tiles that do. Setting
   * it applies to the runs started from then on; a value below 1 throws `Settings`.
   */
  get memoryBudget(): number;
  set memoryBudget(bytes: number);

  /** Whether a run is starting, running or paused. */
  get busy(): boolean;
  /** The conv implementation and storage this engine runs. */
  get variant(): Variant;
  /** The adapter's description (name, limits, features), several lines. */
  get adapter(): string;
  /** The adapter in one line (name, backend, device type; conv path, storage), as records name it. */
  get adapterSummary(): string;

  /**
   * The memory plan of a run of `content` and `style` (decoded images; only their sizes count) at
   * `settings`. Throws `Settings` on invalid settings.
   */
  plan(content: Pick<RgbaImage, 'width' | 'height'>, style: Pick<RgbaImage, 'width' | 'height'> | ReadonlyArray<Pick<RgbaImage, 'width' | 'height'>>, settings: SettingsInit): Plan;

  /**
   * Runs the optimisation (coarse to fine by default), drawing the live preview into `canvas` if
   * given. Resolves when finished or stopped; rejects on errors (`Busy`, `Settings`, `TooLarge`,
   * `Image`, `DeviceLost`, `NotFinite`, `Gpu`, `Kernel`), after an `error` event; the last good
   * image stays available through `image()`.
   */
  run(options: RunOptions): Promise<RunResult>;

  /** The finished frames of the last video run (empty after a photo's run). */
  get frames(): readonly VideoFrameResult[];

  /**
   * After a run: a new run at the larger `size` (px) whose first scale is the current result, with
   * the same images and settings (`settings` changes some). Rejects with `Settings` unless `size`
   * is above the result's longer side.
   */
  continueLarger(size: number, settings?: SettingsInit): Promise<RunResult>;

  /**
   * Steers the live run (running or paused): the changes apply from the next batch and to later
   * scales, without restarting, and stay in `settings`. Fires `steer`. Throws `Settings` for any
   * key not in `StyleTransfer.steerable`, a bad value, or when no run is going.
   */
  steer(changes: SteerChanges): void;
  /** Pauses after the batch in flight. */
  pause(): void;
  /** Resumes a paused run. */
  resume(): void;
  /** Ends the run after the batch in flight; the current image is the result. */
  stop(): void;

  /**
   * After a device loss (or other GPU failure): opens a new device, restores the last good image
   * and continues the run to its planned iteration count (or starts it over when no image was kept).
   */
  recover(): Promise<RunResult>;

  /** The current image, or the last good one after a failure. Rejects with `NoImage` before any image exists. */
  image(): Promise<ResultImage>;
  /** What the current (or last) run was made from, or null before a run. */
  record(): RunRecord | null;
  /** The current image as a PNG Blob carrying its record (see `record()`). */
  pngBlob(): Promise<Blob>;

  /** Ends any run and frees the session's GPU memory (the last good image stays available). */
  dispose(): void;
  /** `dispose()`, and frees the engine too unless a sibling shares it: this StyleTransfer is done. */
  close(): void;

  /** Test hook: destroys the GPU device, as a driver reset would. */
  simulateDeviceLoss(): void;

  addEventListener<K extends keyof StyleTransferEventMap>(type: K, listener: StyleTransferListener<K>, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof StyleTransferEventMap>(type: K, listener: StyleTransferListener<K>, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// ---------------------------------------------------------------------------------------------
// Functions

/** The answer of `webgpuStatus()`. */
export type WebGPUStatus =
  | { ok: false; message: string }
  | {
      ok: true;
      /** Whether the adapter is a software one (slow; the preview then uses a 2D canvas). */
      fallback: boolean;
      message: string;
    };

/** Whether this browser can run stylize, with a message for a person. */
export function webgpuStatus(): Promise<WebGPUStatus>;

/** Loads the wasm module (once; later calls return the same promise). */
export function loadWasm(): Promise<unknown>;

/**
 * Where the package's own files (stylize_bg.wasm, png-worker.js, weights/) are served from;
 * default: found from the module's own URL (import.meta.url). Call it before the first
 * `create()` when a bundler moved the modules away from those files. `url` is a folder (a missing
 * trailing `/` is added), resolved against the page's base URI. Throws `Settings` once the wasm
 * has loaded.
 */
export function setBaseUrl(url: string | URL): void;

/** Sessions alive on this page (each holds GPU memory until its run is replaced or disposed). */
export function liveSessionCount(): number;

/** GPU bytes the live sessions of this page hold (their memory plans, weights included). */
export function liveSessionGpuBytes(): number;

/** An Error whose `name` is `name`, with the fields of `extra` (how the API makes its errors). */
export function namedError<N extends string, X extends object = {}>(name: N, message: string, extra?: X): Error & { name: N } & X;

/** The hex SHA-256 of the weights file the engine expects (weights/vgg19-conv-f16.safetensors). */
export const WEIGHTS_SHA256: string;

/**
 * The default URL of the weights, weights/vgg19-conv-f16.safetensors beside the package, as the
 * module loaded: a later `setBaseUrl()` does not change this constant (the default download does
 * follow it).
 */
export const WEIGHTS_URL: string;

/** What `fetchWeights()` takes. */
export interface FetchWeightsOptions {
  /**
   * Where to download them from (CORS; relative: against the page's base URI); also their key in
   * Cache Storage. Default: weights/vgg19-conv-f16.safetensors beside the package (see `setBaseUrl`).
   */
  url?: string | URL;
  /** Called as bytes arrive: received, total (0 when unknown), whether from Cache Storage. */
  onProgress?: (receivedBytes: number, totalBytes: number, fromCache: boolean) => void;
}

/**
 * Downloads the weights with progress, or takes them from Cache Storage (second visit, offline),
 * and checks their SHA-256 against `WEIGHTS_SHA256`. Rejects with `Weights` (see {@link WeightsError}).
 */
export function fetchWeights(options?: FetchWeightsOptions): Promise<Uint8Array>;

/** The hex SHA-256 of `bytes` (needs a secure context: crypto.subtle). */
export function sha256Hex(bytes: ArrayBuffer | ArrayBufferView): Promise<string>;

/**
 * Decodes an image (a File/Blob, or a URL fetched with CORS) honouring EXIF orientation (the
 * first frame of an animation; transparency composited on white), scaled down so its longer side
 * is at most `maxSide` (default 2048). Rejects with `Image`.
 */
export function decodeImage(source: Blob | string | URL, maxSide?: number): Promise<DecodedImage>;

/**
 * The run record a PNG carries, or null for a PNG without one. Rejects with `Image` if the file
 * is not a PNG, `Settings` if its record cannot be read.
 */
export function readRecord(blob: Blob): Promise<RunRecord | null>;

/**
 * Encodes RGBA bytes as a PNG Blob (in a worker where possible), with `record` inside it when
 * given. Rejects with `Encode`, or `Settings` if `record` is not a run record.
 */
export function rgbaToPng(image: RgbaImage, record?: RunRecordInit | null): Promise<Blob>;

// ---------------------------------------------------------------------------------------------
// Video

/** The most frames `decodeVideo()` gives (a longer range is refused, not truncated). */
export const MAX_FRAMES: number;

/** What `decodeVideo()` takes. */
export interface DecodeVideoOptions {
  /** Frames sampled per second, 1 to 60. Default 12. */
  fps?: number;
  /** From (seconds). Default 0. */
  start?: number;
  /** To (seconds). Default: the end of the clip. */
  end?: number;
  /** The frames' longer side at most (px). Default 512. */
  maxSide?: number;
  /** Called as frames are decoded: done, total. */
  onProgress?: (done: number, total: number) => void;
}

/** A decoded clip. */
export interface DecodedVideo {
  frames: Array<RgbaImage & { data: Uint8Array; name: string }>;
  fps: number;
  /** The whole clip's duration in seconds. */
  duration: number;
  width: number;
  height: number;
  name: string;
}

/**
 * Decodes frames of a video (File/Blob or URL) with the browser's own `<video>` element (any
 * format it plays; the page's CSP must allow `media-src blob:` for files). Rejects with `Video`.
 */
export function decodeVideo(source: Blob | string | URL, options?: DecodeVideoOptions): Promise<DecodedVideo>;

/** A codec `encodeVideo()` can use, and its container. */
export interface VideoCodecChoice {
  codec: 'vp9' | 'vp8' | 'av1' | 'avc';
  container: 'webm' | 'mp4';
}

/** The first of VP9, VP8, AV1 and H.264 this browser encodes at that size (WebCodecs), or null. */
export function videoCodec(width: number, height: number): Promise<VideoCodecChoice | null>;

/**
 * Encodes frames (all one size) as a WebM or MP4 file with WebCodecs, muxed by mediabunny (loaded
 * on first use from `vendor/`). Rejects with `NoEncoder` where the browser encodes no codec (then
 * `zipFrames()`), `Image` for a frame of another size.
 */
export function encodeVideo(frames: readonly RgbaImage[], options?: { fps?: number }): Promise<Blob>;

/** The frames as `frame-0001.png`, … (each with `records[k]` inside when given) in a ZIP Blob. */
export function zipFrames(frames: readonly RgbaImage[], records?: ReadonlyArray<RunRecordInit | null>): Promise<Blob>;

/** Reads a video file back: its decodable frame count, size, codec and duration. Rejects with `Video`. */
export function probeVideo(blob: Blob): Promise<{ frames: number; width: number; height: number; codec: string | null; duration: number }>;

/** The engine's defaults for a video's later frames. */
export function videoDefaults(): { frameIterations: number; temporalWeight: number };
