// style-transfer.js — the <style-transfer> custom element, built on stylize-api.js.
//
//   <script type="module" src="https://your.host/stylize/style-transfer.js"></script>
//   <style-transfer content-src="photo.jpg" style-src="painting.jpg" size="256" iterations="300"
//                   strength="30" autostart></style-transfer>
//
// Attributes: content-src, style-src (image URLs; up to four space-separated URLs blend their
// paintings), style-blend (their weights, e.g. "0.7 0.3"; default equal), style-scale (the
// painting's size relative to the output), colors ("painting", "luminance", "match" or "swap"),
// size (output's longer side, px), iterations, strength (β, the style weight), scales
// (coarse-to-fine scales: 0 = automatic, the default, from 128 px up in steps of √2; 1 = one
// scale), optimizer ("adam" or "lbfgs"), mask-src and regions (region control: a mask image URL and
// what each of its colours takes, e.g. regions="#ff0000=2 #0000ff=photo" — painting 2 of style-src,
// or the photo kept; the mask's other pixels take painting 1), style-mask-src (a style mask URL per
// painting of style-src, space-separated, "-" for none: each region then takes its part of that
// painting), weights-src (where to download the weights: any URL, CORS; checked against their
// pinned SHA-256 and cached; default: weights/ beside this module), autostart (run as soon as it
// is connected), video-src (a video instead of content-src: its frames stylised in turn so that
// they agree with each other; with fps, frames sampled per second, default 12, frame-iterations
// and temporal-weight for the frames after the first, default the engine's). Changing an
// attribute takes effect at the next start(); with autostart, a change restarts the run —
// except strength and style-blend during a run, which steer it from the next batch.
// Methods: start() → Promise<result>, pause(), resume(), stop(), pngBlob() (carries its settings),
// videoBlob() (a video-src run's frames as a WebM/MP4 file; 'NoEncoder' where the browser encodes
// none: then framesZip(), the frames as PNGs in a ZIP),
// steer({style_weight, content_weight, tv_weight, style_layer_weights, lr, style_blend}).
// Events: 'progress' {iteration, iterations, scale, scales, width, height, tiles, itPerSec,
// etaSeconds}, 'scale' {scale, scales, width, height, iterations}, 'losses' {iteration, content,
// style, tv, total, scale, scaleIteration, content_weight, style_weight}, 'steer' {iteration,
// changes}, 'fallback' {from, to, message} (the GPU path changed after a failure), 'frame'
// {frame, frames, image, temporalError, reliable, seconds} (a video frame is done), 'done' {width,
// height, iteration, stopped, frames (a video's)} (bubbling CustomEvents), and 'error'
// (detail: the Error; its name says what failed, e.g. 'NoWebGPU'; it does not bubble, so it never
// reaches window-level error listeners).
// Removing the element stops its run within one batch and frees its GPU memory. Several elements
// on one page share one GPU device and one copy of the weights, and run at the same time.
// The element shows the live preview in a canvas inside its shadow root.

import { StyleTransfer, decodeImage, decodeVideo, encodeVideo, zipFrames } from './stylize-api.js';

/** One device + weights per page and weights URL: weights-src → a promise of the first StyleTransfer. */
const engines = new Map();

class StyleTransferElement extends HTMLElement {
  static observedAttributes = ['content-src', 'style-src', 'size', 'iterations', 'strength', 'scales', 'optimizer', 'colors', 'style-scale', 'style-blend', 'mask-src', 'regions', 'style-mask-src', 'weights-src', 'video-src', 'fps', 'frame-iterations', 'temporal-weight'];

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    this.canvas = document.createElement('canvas');
    this.canvas.part = 'canvas';
    this.canvas.setAttribute('aria-label', 'Stylised image');
    this.message = document.createElement('p');
    this.message.part = 'message';
    this.message.setAttribute('role', 'status');
    const css = new CSSStyleSheet();
    css.replaceSync(':host{display:inline-block} canvas{max-width:100%;height:auto;display:block;image-rendering:auto} p{margin:.25em 0;font:12px system-ui,sans-serif}');
    root.adoptedStyleSheets = [css];
    root.append(this.canvas, this.message);
  }

  connectedCallback() {
    if (this.hasAttribute('autostart')) this.#restartSoon();
  }

  /** Stops the run (within one batch) and frees its session when the element leaves the page. */
  disconnectedCallback() {
    this.#restartPending = false;
    this.st?.dispose();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue || !this.isConnected) return;
    // The weights of a live run are steered, not restarted.
    if (['strength', 'style-blend'].includes(name) && ['running', 'paused'].includes(this.st?.state)) {
      const s = this.#settings();
      try {
        this.st.steer(name === 'strength' ? { style_weight: s.style_weight } : { style_blend: s.style_blend });
        return;
      } catch (e) {
        this.#emit('error', e);
        return;
      }
    }
    if (this.hasAttribute('autostart') && this.#started) this.#restartSoon();
  }

  #started = false;
  #restartPending = false;

  /** One (re)start after the current task, however many attributes change in it. */
  #restartSoon() {
    if (this.#restartPending) return;
    this.#restartPending = true;
    queueMicrotask(async () => {
      if (!this.#restartPending || !this.isConnected) return;
      this.#restartPending = false;
      if (this.st?.busy) {
        this.st.stop();
        await this.#running?.catch(() => {});
      }
      this.start().catch(() => {});
    });
  }

  #emit(type, detail) {
    const bubbles = type !== 'error';
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles, composed: bubbles }));
  }

  #settings() {
    const settings = {};
    if (this.hasAttribute('size')) settings.size = Number(this.getAttribute('size'));
    if (this.hasAttribute('iterations')) settings.iterations = Number(this.getAttribute('iterations'));
    if (this.hasAttribute('strength')) settings.style_weight = Number(this.getAttribute('strength'));
    if (this.hasAttribute('scales')) settings.scales = Number(this.getAttribute('scales'));
    if (this.hasAttribute('optimizer')) settings.optimizer = this.getAttribute('optimizer');
    if (this.hasAttribute('colors')) settings.colors = this.getAttribute('colors');
    if (this.hasAttribute('style-scale')) settings.style_scale = Number(this.getAttribute('style-scale'));
    if (this.hasAttribute('style-blend')) settings.style_blend = this.getAttribute('style-blend').trim().split(/[\s,]+/).map(Number);
    if (this.hasAttribute('regions')) settings.regions = parseRegions(this.getAttribute('regions'));
    return settings;
  }

  /** Steers the live run (see StyleTransfer.steer). */
  steer(changes) { this.st?.steer(changes); }

  /** Loads the engine (once per page) and the two images, then runs with the current attributes. */
  async start() {
    this.#started = true;
    try {
      if (this.st?.busy) throw Object.assign(new Error('This <style-transfer> is already running.'), { name: 'Busy' });
      this.message.textContent = 'Loading…';
      let first = false;
      const weightsUrl = this.getAttribute('weights-src') || undefined;
      const key = weightsUrl ? (URL.parse(weightsUrl, document.baseURI)?.href ?? weightsUrl) : '';
      if (this.st && this.#weightsKey !== key) {
        this.st.dispose();
        this.st = null;
      }
      this.#weightsKey = key;
      if (!engines.has(key)) {
        first = true;
        engines.set(key, StyleTransfer.create({ weightsUrl }));
      }
      const base = await engines.get(key).catch((e) => { engines.delete(key); throw e; });
      this.st ??= first ? base : base.sibling();
      const st = this.st;
      const styleSrcs = (this.getAttribute('style-src') || '').trim().split(/\s+/);
      const settings = this.#settings();
      const maskSrc = this.getAttribute('mask-src');
      const styleMaskSrcs = (this.getAttribute('style-mask-src') || '').trim().split(/\s+/).filter((u) => u);
      const optional = (u) => (u && u !== '-' ? decodeImage(u) : null);
      const videoSrc = this.getAttribute('video-src');
      this.#fps = Number(this.getAttribute('fps')) || 12;
      const [content, mask, ...rest] = await Promise.all([
        videoSrc ? decodeVideo(videoSrc, { fps: this.#fps, maxSide: settings.size ?? 512 }) : decodeImage(this.getAttribute('content-src')), optional(maskSrc),
        ...styleSrcs.map((u) => decodeImage(u)), ...styleMaskSrcs.map(optional)]);
      const styles = rest.slice(0, styleSrcs.length);
      const styleMasks = rest.slice(styleSrcs.length);
      const style = styles.length > 1 ? styles : styles[0];
      if (!this.isConnected) return { stopped: true };
      const fwd = (e) => {
        this.#emit(e.type, e.detail);
        if (e.type === 'progress') {
          const d = e.detail;
          this.message.textContent = `${d.frames ? `frame ${d.frame + 1} of ${d.frames} · ` : ''}${d.scales > 1 ? `scale ${d.scale + 1} of ${d.scales} · ` : ''}${d.iteration} / ${d.iterations}`;
        }
      };
      const forwarded = ['progress', 'losses', 'scale', 'steer', 'fallback', 'frame'];
      for (const type of forwarded) st.addEventListener(type, fwd);
      try {
        const number = (name) => (this.hasAttribute(name) ? Number(this.getAttribute(name)) : undefined);
        const input = videoSrc ? { video: content.frames, frameIterations: number('frame-iterations'), temporalWeight: number('temporal-weight') } : { content };
        this.#running = st.run({ ...input, style, settings, canvas: this.canvas, mask, styleMasks: styleMasks.length ? styleMasks : null });
        const result = await this.#running;
        this.message.textContent = '';
        this.#emit('done', result);
        if (!this.isConnected) st.dispose();
        return result;
      } finally {
        for (const type of forwarded) st.removeEventListener(type, fwd);
      }
    } catch (e) {
      this.message.textContent = e.message;
      this.#emit('error', e);
      throw e;
    }
  }

  #running = null;
  #weightsKey = '';
  #fps = 12;

  pause() { this.st?.pause(); }
  resume() { this.st?.resume(); }
  stop() { this.st?.stop(); }
  /** The current image as a PNG Blob (rejects with name 'NoImage' before any start()). */
  pngBlob() {
    if (!this.st) return Promise.reject(Object.assign(new Error('This <style-transfer> has no image yet: call start() first.'), { name: 'NoImage' }));
    return this.st.pngBlob();
  }

  /** A video-src run's finished frames as a video file (rejects with 'NoEncoder' where the browser encodes none, 'NoImage' before any frame). */
  videoBlob() {
    return encodeVideo(this.st?.frames ?? [], { fps: this.#fps });
  }

  /** A video-src run's finished frames as PNGs in a ZIP. */
  framesZip() {
    return zipFrames(this.st?.frames ?? []);
  }
}

/** `regions` attribute → settings.regions: "#ff0000=2 #00f=photo" (painting numbers from 1). */
function parseRegions(text) {
  return text.trim().split(/\s+/).filter((t) => t).map((token) => {
    const [colour, what] = token.split('=');
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour ?? '')?.[1];
    const n = Number(what);
    if (!hex || !(what === 'photo' || (Number.isInteger(n) && n >= 1))) {
      throw Object.assign(new Error(`regions: “${token}” is not COLOUR=PAINTING (a number from 1) or COLOUR=photo, e.g. #ff0000=1`), { name: 'Settings' });
    }
    const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
    const color = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
    return { color, painting: what === 'photo' ? null : n - 1 };
  });
}

if (!customElements.get('style-transfer')) customElements.define('style-transfer', StyleTransferElement);
export { StyleTransferElement };
