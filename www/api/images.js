// api/images.js — images in and out: decoding (EXIF orientation, the engine's checks), PNG
// encoding in a worker, and the run record a PNG carries.

import { assetUrl, loadWasm, namedError, checkImageBytes, pngRecord, pngWithRecord } from './engine.js';
import { sha256Hex } from './weights.js';

/**
 * Decodes an image (File/Blob or URL) honouring EXIF orientation (the first frame of an
 * animation; transparency composited on white), scaled down so its longer side is at most
 * maxSide. Empty files, truncated JPEGs and absurd declared dimensions are refused first, with the
 * CLI's messages. Resolves to {data: Uint8Array RGBA, width, height}; rejects with name 'Image'.
 */
export async function decodeImage(source, maxSide = 2048) {
  let blob = source;
  if (!(source instanceof Blob)) {
    const r = await fetch(source).catch((e) => { throw namedError('Image', `Could not load ${source}: ${e.message}`); });
    if (!r.ok) throw namedError('Image', `Could not load ${source}: HTTP ${r.status}`);
    blob = await r.blob();
  }
  // Browsers decode a truncated JPEG with its missing rows filled in; refuse it with the CLI's
  // message (the same check, in the engine).
  await loadWasm();
  const name = source instanceof File ? source.name : decodeURIComponent(String(source).split('/').pop());
  const bytes = new Uint8Array(await blob.arrayBuffer());
  try {
    checkImageBytes(bytes, name);
  } catch (e) {
    throw namedError('Image', e.message);
  }
  // For the result's record (crypto.subtle exists in secure contexts only).
  const sha256 = crypto.subtle ? await sha256Hex(bytes) : null;
  let bmp;
  try {
    bmp = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    const what = source instanceof File ? `"${source.name}"` : 'this file';
    throw namedError('Image', `Could not read ${what}: it is not an image this browser can decode (PNG, JPEG, WebP, GIF, AVIF).`);
  }
  const { width, height, ctx } = fittedCanvas(bmp.width, bmp.height, maxSide);
  // Transparency is composited on white, as the CLI does.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bmp, 0, 0, width, height);
  bmp.close();
  const data = new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer);
  return { data, width, height, name, sha256 };
}

/**
 * A 2D canvas for a `w`×`h` picture scaled down so its longer side is at most `maxSide`, set up
 * for reading back (decodeImage, decodeVideo): {width, height, ctx}.
 */
export function fittedCanvas(w, h, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  return { width, height, ctx };
}

/**
 * The run record a PNG carries ({stylize, settings, content: {name, sha256}, style, adapter}), or
 * null for a PNG without one. Rejects with 'Image' if the file is not a PNG, 'Settings' if its
 * record cannot be read.
 */
export async function readRecord(blob) {
  await loadWasm();
  const bytes = new Uint8Array(await blob.arrayBuffer());
  try {
    return pngRecord(bytes);
  } catch (e) {
    throw namedError(e.name || 'Image', e.message);
  }
}

/** Encodes RGBA bytes as a PNG Blob, with `record` (see readRecord) inside it when given. */
export async function rgbaToPng(image, record = null) {
  const png = await encodePng(image);
  if (!record) return png;
  await loadWasm();
  return new Blob([pngWithRecord(new Uint8Array(await png.arrayBuffer()), record)], { type: 'image/png' });
}

async function encodePng({ data, width, height }) {
  // In a worker (png-worker.js), so encoding a full-resolution image never freezes the page; on
  // the page's thread only where workers cannot be made (e.g. an embedding site's CSP).
  const pixels = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  try {
    return await pngInWorker(pixels, width, height);
  } catch (e) {
    if (e.name !== 'NoWorker') throw e;
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

let pngWorker = null;
let pngJobs = 0;
const pngPending = new Map();
function pngInWorker(pixels, width, height) {
  if (!pngWorker) {
    try {
      // A worker must come from the page's origin: a package imported from a CDN encodes on the
      // page's thread instead (below).
      pngWorker = new Worker(assetUrl('png-worker.js'));
    } catch (e) {
      return Promise.reject(namedError('NoWorker', e.message));
    }
    pngWorker.onmessage = ({ data }) => {
      const job = pngPending.get(data.id);
      pngPending.delete(data.id);
      if (data.error) job?.reject(namedError('Encode', `PNG encoding failed: ${data.error}`));
      else job?.resolve(data.blob);
    };
    pngWorker.onerror = (e) => {
      e.preventDefault();
      for (const job of pngPending.values()) job.reject(namedError('NoWorker', e.message || 'the PNG worker did not start'));
      pngPending.clear();
      pngWorker = null;
    };
  }
  const id = ++pngJobs;
  return new Promise((resolve, reject) => {
    pngPending.set(id, { resolve, reject });
    // A copy is transferred (the caller keeps its pixels).
    const copy = pixels.slice();
    pngWorker.postMessage({ id, data: copy.buffer, width, height }, [copy.buffer]);
  });
}
