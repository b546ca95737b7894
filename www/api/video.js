// api/video.js — video in and out: a clip decoded into frames by the browser's own <video>
// element (any format it plays), the stylised frames encoded with WebCodecs and muxed by
// mediabunny (WebM: VP9, VP8 or AV1; MP4: H.264, whichever this browser encodes), or zipped as PNGs
// with fflate where it encodes none. Both libraries load only when first needed, from vendor/
// beside the package.

import { assetUrl, namedError } from './engine.js';
import { fittedCanvas, rgbaToPng } from './images.js';

/** The most frames a clip may give (at 24 fps: 15 s); a longer range is refused, not truncated. */
export const MAX_FRAMES = 360;

const once = (target, ok, fail = 'error') => new Promise((resolve, reject) => {
  // `fail` rejects with the event: callers name the error.
  const done = (f) => (e) => { target.removeEventListener(ok, a); target.removeEventListener(fail, b); f(e); };
  const a = done(resolve);
  const b = done(reject);
  target.addEventListener(ok, a);
  target.addEventListener(fail, b);
});

/**
 * Decodes frames of a video (File/Blob or URL) at `fps` from `start` to `end` seconds (default:
 * the whole clip), scaled down so the longer side is at most `maxSide`. Resolves to
 * `{frames: [{data, width, height, name}], fps, duration, width, height, name}`; rejects with name
 * 'Video' when the browser cannot play the file or the range holds no frame or more than
 * MAX_FRAMES. `onProgress(done, total)` follows the decoding.
 */
export async function decodeVideo(source, { fps = 12, start = 0, end = Infinity, maxSide = 512, onProgress } = {}) {
  if (!(fps > 0 && fps <= 60)) throw namedError('Video', `Sample 1 to 60 frames per second, not ${fps}.`);
  const name = source instanceof File ? source.name : decodeURIComponent(String(source).split('/').pop());
  const url = source instanceof Blob ? URL.createObjectURL(source) : String(source);
  const video = document.createElement('video');
  Object.assign(video, { muted: true, playsInline: true, preload: 'auto', crossOrigin: 'anonymous' });
  try {
    video.src = url;
    await once(video, 'loadeddata').catch(() => {
      const why = video.error?.message || 'unsupported format';
      // A Content-Security-Policy without media-src blob: refuses every local file alike.
      if (/safety check/.test(why)) throw namedError('Video', `Could not read "${name}": this page's Content-Security-Policy must allow media-src blob: for videos.`);
      throw namedError('Video', `Could not read "${name}": it is not a video this browser can play (${why}).`);
    });
    let duration = video.duration;
    if (!Number.isFinite(duration)) {
      // Recorded WebM often declares no duration; seeking past the end makes the browser find it.
      video.currentTime = 1e9;
      await once(video, 'seeked').catch(() => { throw namedError('Video', `Could not seek in "${name}" (${video.error?.message || 'a decoding error'}).`); });
      duration = video.duration;
    }
    const to = Math.min(end, duration);
    if (!(to > start && start >= 0)) throw namedError('Video', `The range ${start}–${end} s holds no frame of this ${duration.toFixed(2)} s clip.`);
    const count = Math.max(1, Math.floor((to - start) * fps + 1e-6));
    if (count > MAX_FRAMES) throw namedError('Video', `${count} frames is more than ${MAX_FRAMES}: choose a shorter range or fewer frames per second.`);
    const { width, height, ctx } = fittedCanvas(video.videoWidth, video.videoHeight, maxSide);
    const frames = [];
    for (let k = 0; k < count; k++) {
      // The middle of the k-th sampling interval: never on a frame boundary, never past the end.
      const t = Math.min(start + (k + 0.5) / fps, duration - 1e-3);
      video.currentTime = t;
      await once(video, 'seeked').catch(() => { throw namedError('Video', `Could not decode "${name}" at ${t.toFixed(2)} s (${video.error?.message || 'a decoding error'}).`); });
      ctx.drawImage(video, 0, 0, width, height);
      frames.push({ data: new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer), width, height, name: `${name} frame ${k + 1}` });
      onProgress?.(k + 1, count);
    }
    return { frames, fps, duration, width, height, name };
  } finally {
    video.removeAttribute('src');
    video.load();
    if (source instanceof Blob) URL.revokeObjectURL(url);
  }
}

let mediabunny = null;
const loadMediabunny = () => (mediabunny ??= import(assetUrl('vendor/mediabunny.min.mjs')).catch((e) => {
  mediabunny = null; // a failed download is tried again next time
  throw e;
}));

/** The codecs tried, in order: each with its container. */
const CODECS = [['vp9', 'webm'], ['vp8', 'webm'], ['av1', 'webm'], ['avc', 'mp4']];

/**
 * The first codec of VP9, VP8, AV1 and H.264 this browser encodes at `width`×`height` (WebCodecs),
 * or null. `codecs` (test hook) replaces the list tried.
 */
export async function videoCodec(width, height, codecs = CODECS) {
  if (typeof VideoEncoder === 'undefined') return null;
  const mb = await loadMediabunny();
  for (const [codec, container] of codecs) {
    const even = codec === 'avc' ? [width & ~1, height & ~1] : [width, height];
    if (await mb.canEncodeVideo(codec, { width: even[0], height: even[1] })) return { codec, container };
  }
  return null;
}

/**
 * Encodes RGBA frames (`[{data, width, height}]`, all one size) at `fps` as a video file with
 * WebCodecs, muxed by mediabunny. Resolves to a Blob (video/webm or video/mp4); rejects with name
 * 'NoEncoder' when this browser encodes none of the codecs (then see zipFrames).
 */
export async function encodeVideo(frames, { fps = 12, codecs } = {}) {
  if (!frames.length) throw namedError('NoImage', 'No frames to encode.');
  const { width, height } = frames[0];
  const chosen = await videoCodec(width, height, codecs);
  if (!chosen) throw namedError('NoEncoder', 'This browser cannot encode video (no WebCodecs encoder for VP9, VP8, AV1 or H.264): download the frames as a ZIP of PNGs instead.');
  const mb = await loadMediabunny();
  // H.264 needs even sides: the last odd row or column is left out.
  const [w, h] = chosen.codec === 'avc' ? [width & ~1, height & ~1] : [width, height];
  const output = new mb.Output({
    format: chosen.container === 'webm' ? new mb.WebMOutputFormat() : new mb.Mp4OutputFormat({ fastStart: 'in-memory' }),
    target: new mb.BufferTarget(),
  });
  const source = new mb.VideoSampleSource({ codec: chosen.codec, bitrate: mb.QUALITY_HIGH, keyFrameInterval: 2 });
  output.addVideoTrack(source, { frameRate: fps });
  const bad = frames.findIndex((f) => f.width !== width || f.height !== height);
  if (bad >= 0) throw namedError('Image', `Frame ${bad + 1} is ${frames[bad].width}×${frames[bad].height}, not ${width}×${height} like the first.`);
  await output.start();
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d');
  try {
    for (const [k, f] of frames.entries()) {
      ctx.putImageData(new ImageData(new Uint8ClampedArray(f.data.buffer, f.data.byteOffset, f.data.byteLength), width, height), 0, 0);
      const sample = new mb.VideoSample(canvas, { timestamp: k / fps, duration: 1 / fps });
      await source.add(sample);
      sample.close();
    }
    await output.finalize();
  } catch (e) {
    await output.cancel().catch(() => {}); // the encoder is closed either way
    throw e;
  }
  return new Blob([output.target.buffer], { type: chosen.container === 'webm' ? 'video/webm' : 'video/mp4' });
}

/**
 * The frames as PNGs (`frame-0001.png`, …, each carrying `records[k]` or its own `record`) in one ZIP
 * (stored, not deflated: PNGs are compressed already). Resolves to a Blob (application/zip).
 */
export async function zipFrames(frames, records = []) {
  const { zipSync } = await import(assetUrl('vendor/fflate/browser.js'));
  const files = {};
  const digits = Math.max(4, String(frames.length).length);
  for (const [k, f] of frames.entries()) {
    const png = await rgbaToPng(f, records[k] ?? f.record ?? null);
    files[`frame-${String(k + 1).padStart(digits, '0')}.png`] = [new Uint8Array(await png.arrayBuffer()), { level: 0 }];
  }
  return new Blob([zipSync(files)], { type: 'application/zip' });
}

/**
 * Reads a video file back (mediabunny; what the tests and a curious embedder use): resolves to
 * `{frames, width, height, codec, duration}` counting the decodable frames of its video track.
 */
export async function probeVideo(blob) {
  const mb = await loadMediabunny();
  const input = new mb.Input({ source: new mb.BlobSource(blob), formats: mb.ALL_FORMATS });
  const track = await input.getPrimaryVideoTrack();
  if (!track) throw namedError('Video', 'The file has no video track.');
  const sink = new mb.VideoSampleSink(track);
  let frames = 0;
  for await (const sample of sink.samples()) {
    frames++;
    sample.close();
  }
  return { frames, width: await track.getDisplayWidth(), height: await track.getDisplayHeight(), codec: await track.getCodec(), duration: await input.computeDuration() };
}
