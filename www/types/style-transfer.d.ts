// style-transfer.d.ts — hand-maintained declarations of the <style-transfer> custom element
// (style-transfer.js). Importing style-transfer.js defines the element; it also exports its class,
// but a page usually gets an element through document.createElement('style-transfer') or
// querySelector('style-transfer'), which HTMLElementTagNameMap below types as
// StyleTransferElement.
//
//   import 'stylize/element';
//   const el = document.createElement('style-transfer');
//   el.setAttribute('content-src', 'photo.jpg');
//   el.setAttribute('style-src', 'painting.jpg');
//   el.addEventListener('done', async (e) => { const png = await el.pngBlob(); });
//   document.body.append(el);
//   await el.start();

import type {
  RunResult,
  SteerChanges,
  StyleTransfer,
  StyleTransferEventMap,
} from './stylize-api.js';

/**
 * The attributes of <style-transfer>, each a string as in HTML (the element has no properties
 * reflecting them: use setAttribute). A changed attribute takes effect at the next `start()`; with
 * `autostart`, a change restarts the run — except `strength` and `style-blend` during a run,
 * which steer it from the next batch.
 */
export interface StyleTransferElementAttributes {
  /** The photo's URL (same origin or CORS-enabled). Required. */
  'content-src': string;
  /** The painting's URL; up to four space-separated URLs blend their paintings. Required. */
  'style-src': string;
  /** The paintings' blend weights, space- or comma-separated, e.g. "0.7 0.3" (settings.style_blend); default equal. Steers a live run. */
  'style-blend': string;
  /** The painting's size relative to the output, 0.1 to 4 (settings.style_scale); default 1. */
  'style-scale': string;
  /** Whose colours the result has: "painting" (default), "luminance", "match" or "swap" (settings.colors). */
  colors: string;
  /** The output's longer side in pixels, 16 to 4096 (settings.size); default 256. */
  size: string;
  /** Iterations at the final scale (settings.iterations); default 100. */
  iterations: string;
  /** β, the style weight (settings.style_weight); default 30. Steers a live run. */
  strength: string;
  /** Coarse-to-fine scales (settings.scales): 0 = automatic (the default), from 128 px up in steps of √2; 1 = one scale. */
  scales: string;
  /** The optimiser: "adam" or "lbfgs" (settings.optimizer); default "lbfgs". */
  optimizer: string;
  /** The region mask's URL (region control, with `regions`). */
  'mask-src': string;
  /**
   * What each colour of the mask takes: space-separated COLOUR=PAINTING tokens, e.g.
   * "#ff0000=2 #0000ff=photo" — painting 2 of style-src (numbered from 1), or the photo kept;
   * colours as #rgb or #rrggbb. The mask's other pixels take painting 1 (settings.regions).
   */
  regions: string;
  /**
   * A style mask URL per painting of style-src, space-separated, "-" for none: each region then
   * takes its part of that painting.
   */
  'style-mask-src': string;
  /**
   * The weights' URL (CORS; relative: against the document's base URI), as
   * `StyleTransfer.create({ weightsUrl })`: checked against WEIGHTS_SHA256 and cached in Cache
   * Storage under that URL. Default: weights/vgg19-conv-f16.safetensors beside the package.
   * Elements with the same weights URL share one engine (one GPU device, one copy of the weights);
   * a changed weights-src takes a new engine at the next start().
   */
  'weights-src': string;
  /**
   * A video's URL instead of content-src (any format the browser plays; CORS across origins):
   * its frames are stylised in turn so that they agree with each other (`run({video})`); 'frame'
   * fires as each is done; `videoBlob()` / `framesZip()` give the result.
   */
  'video-src': string;
  /** Frames sampled per second from video-src, 1 to 60. Default 12. */
  fps: string;
  /** Iterations of each video frame after the first. Default `videoDefaults().frameIterations`. */
  'frame-iterations': string;
  /** γ, the temporal loss's weight for a video. Default `videoDefaults().temporalWeight`. */
  'temporal-weight': string;
  /** Present: run as soon as the element is connected (and restart when an attribute changes). Boolean. */
  autostart: string;
}

/** The names of the attributes of <style-transfer>. */
export type StyleTransferElementAttribute = keyof StyleTransferElementAttributes;

/**
 * The events of <style-transfer>: `progress`, `scale`, `losses` and `done` bubble and cross the
 * shadow boundary (composed); `error` does not bubble, so it never reaches window-level error
 * listeners. The events are the StyleTransfer's (see StyleTransferEventMap), forwarded.
 */
export interface StyleTransferElementEventMap extends Omit<HTMLElementEventMap, 'progress' | 'error'>, StyleTransferEventMap {}

/** What `start()` resolves to when the element left the page before its run began. */
export interface StartAborted {
  stopped: true;
}

/**
 * <style-transfer>: the JS API in one element. It shows the live preview in a canvas inside its
 * open shadow root (CSS parts `canvas` and `message`). Removing it stops its run within one batch
 * and frees its GPU memory; several elements on one page share one GPU device and one copy of the
 * weights, and run at the same time.
 */
export declare class StyleTransferElement extends HTMLElement {
  /** The attributes whose changes the element follows. */
  static observedAttributes: string[];

  /** The preview canvas (in the shadow root; part "canvas"). */
  readonly canvas: HTMLCanvasElement;
  /** The status line under it (loading, progress, errors; part "message"). */
  readonly message: HTMLParagraphElement;
  /**
   * The StyleTransfer running this element's runs: undefined until the first `start()` has loaded
   * it (null while a changed weights-src loads another engine).
   */
  readonly st?: StyleTransfer | null;

  /**
   * Loads the engine (once per page) and the images, then runs with the current attributes.
   * Resolves to the result (also the `done` event), or to `{stopped: true}` if the element left
   * the page while its images loaded; rejects (after an `error` event) with a stylize error
   * (`Busy` while a run is going).
   */
  start(): Promise<RunResult | StartAborted>;
  /** Pauses after the batch in flight. */
  pause(): void;
  /** Resumes a paused run. */
  resume(): void;
  /** Ends the run after the batch in flight; the current image is the result. */
  stop(): void;
  /**
   * Steers the live run (see `StyleTransfer.steer`): throws `Settings` for a key that cannot be
   * steered or a bad value; does nothing before the first `start()`.
   */
  steer(changes: SteerChanges): void;
  /** The current image as a PNG Blob carrying its settings (its run record). Rejects with `NoImage` before any `start()`. */
  pngBlob(): Promise<Blob>;
  /** A video-src run's finished frames as a WebM/MP4 file (`encodeVideo`); rejects with `NoEncoder` where the browser encodes none. */
  videoBlob(): Promise<Blob>;
  /** A video-src run's finished frames as PNGs in a ZIP (`zipFrames`). */
  framesZip(): Promise<Blob>;

  addEventListener<K extends keyof StyleTransferElementEventMap>(type: K, listener: (this: StyleTransferElement, ev: StyleTransferElementEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof StyleTransferElementEventMap>(type: K, listener: (this: StyleTransferElement, ev: StyleTransferElementEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'style-transfer': StyleTransferElement;
  }
}
