// stylize-api.js — the JavaScript API of stylize, on which the page and the <style-transfer>
// element are built. Everything runs in this browser on WebGPU; nothing is uploaded. The parts
// live in api/: engine.js (the wasm, errors, WebGPU check), weights.js, images.js, inputs.js,
// transfer.js (StyleTransfer) and run-loop.js (its loop).
//
//   import { StyleTransfer, decodeImage, webgpuStatus } from './stylize-api.js';
//   const st = await StyleTransfer.create({ onWeightsProgress: (got, total) => ... });
//       // weightsUrl: any URL (CORS), default weights/ beside the package; setBaseUrl(url) says where
//       // the package's wasm, worker and weights are when a bundler moved the modules (see the
//       // package README, www/package/README.md)
//   st.addEventListener('progress', e => console.log(e.detail));
//       // {iteration, iterations, scale, scales, width, height, itPerSec, etaSeconds}
//   st.addEventListener('scale', e => ...);   // {scale, scales, width, height, iterations}: a scale begins
//   st.addEventListener('losses', e => ...);  // {iteration, content, style, tv, total, scale, scaleIteration,
//                                             //  content_weight, style_weight (those of its batch)}
//   const result = await st.run({ content: await decodeImage(file), style: await decodeImage(url),
//                                 settings: { size: 256, iterations: 300 }, canvas });
//   const png = await st.pngBlob();
//   await st.continueLarger(1024);            // the result as the first scale of a larger run
//   st.steer({ style_weight: 300 });          // during a run: applies from the next batch
//   st.run({ content, style: [starry, scream], settings: { style_blend: [0.7, 0.3] } }); // blend paintings
//   st.run({ content, style, mask,                     // regions: a decoded mask image and what each colour takes
//            settings: { regions: [{ color: [255, 0, 0], painting: 0 }, { color: [0, 0, 255], painting: null }] } });
//   st.run({ content, style, mask, styleMasks: [paintingMask],  // style masks: per painting, a mask in the same
//            settings: { regions } });                          // colours; a region matches its part of the painting
//   st.addEventListener('steer', e => ...);   // {iteration, changes}
//   const clip = await decodeVideo(file, { fps: 12, start: 0, end: 3, maxSide: 256 });  // a video: frames
//   st.addEventListener('frame', e => ...);   // {frame, frames, image, temporalError, reliable, seconds}
//   await st.run({ video: clip.frames, style, settings, canvas });  // frames that agree (optical flow)
//   const webm = await encodeVideo(st.frames, { fps: clip.fps });  // WebCodecs; 'NoEncoder' → zipFrames(st.frames)
//
// A run is coarse-to-fine by default (settings.scales 0: from settings.min_size up to size in
// steps of √2; `iterations` are the final scale's, see Settings::schedule in the engine); the
// preview, progress (in run iterations; ETA weighted by each scale's pixels), losses and history
// continue across scales.
//
// Errors are Error objects whose `name` says what failed: 'NoWebGPU', 'Weights', 'Image',
// 'Settings', 'TooLarge' (with `fits`, the largest size that fits), 'DeviceLost', 'NotFinite', 'Gpu'.

export { liveSessionCount, liveSessionGpuBytes, loadWasm, namedError, setBaseUrl, webgpuStatus } from './api/engine.js';
export { WEIGHTS_SHA256, WEIGHTS_URL, fetchWeights, sha256Hex } from './api/weights.js';
export { decodeImage, readRecord, rgbaToPng } from './api/images.js';
export { StyleTransfer } from './api/transfer.js';
export { MAX_FRAMES, decodeVideo, encodeVideo, probeVideo, videoCodec, zipFrames } from './api/video.js';
export { videoDefaults } from './api/video-run.js';
