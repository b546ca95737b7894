// api/weights.js — the model weights: where they are, their pinned SHA-256, and their download
// with progress, kept in Cache Storage and checked before use.

import { assetUrl, namedError } from './engine.js';

/** SHA-256 of weights/vgg19-conv-f16.safetensors as made by tools/fetch-weights. */
export const WEIGHTS_SHA256 = 'ad22996da9b58db06c0386c46129cf600f18e545feb000d616cea0a807368b07';
/** The weights' default URL: weights/ beside the package (see setBaseUrl), as the module loaded. */
export const WEIGHTS_URL = assetUrl('weights/vgg19-conv-f16.safetensors').href;
const CACHE = 'stylize-weights-v1';

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Downloads the weights with progress from `url` (default: beside the package; another origin must
 * send CORS headers), or takes them from Cache Storage, where they are kept under that URL (second
 * visit, offline), and checks their SHA-256 before use. onProgress(receivedBytes, totalBytes, fromCache).
 */
export async function fetchWeights({ url, onProgress = () => {} } = {}) {
  try {
    url = new URL(url ?? assetUrl('weights/vgg19-conv-f16.safetensors'), globalThis.document?.baseURI ?? globalThis.location?.href).href;
  } catch {
    throw namedError('Weights', `The weights URL “${url}” is not a URL.`);
  }
  const cache = 'caches' in self ? await caches.open(CACHE).catch(() => null) : null;
  let resp = cache ? await cache.match(url) : undefined;
  const fromCache = !!resp;
  if (!resp) {
    try {
      resp = await fetch(url);
    } catch (e) {
      throw namedError('Weights', `Could not download the weights from ${url} (${e.message}). Check your connection; a URL on another origin must send CORS headers (Access-Control-Allow-Origin) and be allowed by the page's Content-Security-Policy (connect-src).`, { url });
    }
    if (!resp.ok) throw namedError('Weights', `Could not download the weights: HTTP ${resp.status} for ${url}.`, { url, status: resp.status });
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
    throw namedError('Weights', `The weights from ${url} are not stylize's VGG19 weights (SHA-256 ${hash.slice(0, 12)}… instead of ${WEIGHTS_SHA256.slice(0, 12)}…): the file is corrupt or a different one. Reload to download them again.`, { url });
  }
  if (cache && !fromCache) {
    await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
  }
  return bytes;
}
