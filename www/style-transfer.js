// style-transfer.js — the <style-transfer> custom element, built on stylize-api.js.
//
//   <script type="module" src="https://your.host/stylize/style-transfer.js"></script>
//   <style-transfer content-src="photo.jpg" style-src="painting.jpg" size="256" iterations="300"
//                   strength="30" autostart></style-transfer>
//
// Attributes: content-src, style-src (image URLs), size (output's longer side, px), iterations,
// strength (β, the style weight), autostart (run as soon as it is connected).
// Methods: start() → Promise<result>, pause(), resume(), stop(), pngBlob().
// Events (bubbling CustomEvents): 'progress' {iteration, iterations, itPerSec, etaSeconds},
// 'losses' {iteration, content, style, tv, total}, 'done' {width, height, iteration, stopped},
// 'error' (detail: the Error; its name says what failed, e.g. 'NoWebGPU').
// The element shows the live preview in a WebGPU canvas inside its shadow root.

import { StyleTransfer, decodeImage } from './stylize-api.js';

let shared; // one engine (device + weights) per page

class StyleTransferElement extends HTMLElement {
  static observedAttributes = ['content-src', 'style-src', 'size', 'iterations', 'strength'];

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
    if (this.hasAttribute('autostart')) queueMicrotask(() => this.start().catch(() => {}));
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** Loads the engine (once per page) and the two images, then runs. */
  async start() {
    try {
      this.message.textContent = 'Loading…';
      shared ??= StyleTransfer.create();
      const st = await shared;
      if (st.state === 'running' || st.state === 'paused') throw Object.assign(new Error('Another <style-transfer> is running on this page.'), { name: 'Busy' });
      const [content, style] = await Promise.all([decodeImage(this.getAttribute('content-src')), decodeImage(this.getAttribute('style-src'))]);
      const settings = {};
      if (this.hasAttribute('size')) settings.size = Number(this.getAttribute('size'));
      if (this.hasAttribute('iterations')) settings.iterations = Number(this.getAttribute('iterations'));
      if (this.hasAttribute('strength')) settings.style_weight = Number(this.getAttribute('strength'));
      this.st = st;
      const fwd = (e) => {
        this.#emit(e.type, e.detail);
        if (e.type === 'progress') this.message.textContent = `${e.detail.iteration} / ${e.detail.iterations}`;
      };
      st.addEventListener('progress', fwd);
      st.addEventListener('losses', fwd);
      try {
        const result = await st.run({ content, style, settings, canvas: this.canvas });
        this.message.textContent = '';
        this.#emit('done', result);
        return result;
      } finally {
        st.removeEventListener('progress', fwd);
        st.removeEventListener('losses', fwd);
      }
    } catch (e) {
      this.message.textContent = e.message;
      this.#emit('error', e);
      throw e;
    }
  }

  pause() { this.st?.pause(); }
  resume() { this.st?.resume(); }
  stop() { this.st?.stop(); }
  /** The current image as a PNG Blob. */
  pngBlob() { return this.st.pngBlob(); }
}

if (!customElements.get('style-transfer')) customElements.define('style-transfer', StyleTransferElement);
export { StyleTransferElement };
