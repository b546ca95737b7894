// api/engine.js — the wasm engine loaded once, the error type every API call rejects with, and
// whether this browser can run stylize at all.

import init, { Stylizer, checkImageBytes, liveSessions, liveSessionBytes, pngWithRecord, pngRecord, version } from '../stylize.js';

export { Stylizer, checkImageBytes, pngWithRecord, pngRecord, version };

/** Where the package's files live (its wasm, weights, worker): set by setBaseUrl, else the folder
 * above this module, found from import.meta.url, so that a page on one origin can import the
 * package from another (a CDN) with no configuration. */
let base = null;

/**
 * Where the package's own files (stylize_bg.wasm, png-worker.js, weights/) are served from, for a
 * bundler that moved the modules away from them; call it before the first StyleTransfer.create().
 */
export function setBaseUrl(url) {
  if (wasm) throw namedError('Settings', 'setBaseUrl must be called before the engine loads (before the first StyleTransfer.create()).');
  base = new URL(String(url).endsWith('/') ? String(url) : `${url}/`, globalThis.document?.baseURI ?? globalThis.location?.href);
}

/** The URL of one of the package's files (see setBaseUrl). */
export function assetUrl(name) {
  return new URL(name, base ?? new URL('..', import.meta.url));
}

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
  // The literal new URL('…', import.meta.url) lets bundlers that know the pattern (Vite, webpack)
  // emit the wasm beside their output.
  wasm ??= init({ module_or_path: base ? assetUrl('stylize_bg.wasm') : new URL('../stylize_bg.wasm', import.meta.url) });
  return wasm;
}

/** An Error whose `name` says what failed (see stylize-api.js), with `extra` fields. */
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
