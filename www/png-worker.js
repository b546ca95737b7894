// png-worker.js — encodes RGBA8 pixels as a PNG off the page's thread (OffscreenCanvas), so the
// download of a full-resolution result (a 4096 px image is 67 MB of pixels) never freezes the
// page. Message in: {id, data: ArrayBuffer of width·height·4 bytes, width, height} (transferred);
// out: {id, blob} or {id, error}.
self.onmessage = async ({ data: { id, data, width, height } }) => {
  try {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(data), width, height), 0, 0);
    self.postMessage({ id, blob: await canvas.convertToBlob({ type: 'image/png' }) });
  } catch (e) {
    self.postMessage({ id, error: `${e.name}: ${e.message}` });
  }
};
