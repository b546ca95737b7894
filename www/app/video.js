// video.js — the video panel: a clip chosen instead of a photo (its first frame stands for the
// photo in the other panels), the frame rate, range and later-frame settings, the strip of
// finished frames, and the downloads (a video file, or a ZIP of PNGs where this browser cannot
// encode one).

import { MAX_FRAMES, decodeVideo, encodeVideo, videoDefaults, zipFrames } from '../stylize-api.js';
import { $, ui, state, on, changed, busy, setStatus, showError, named, fmtTime, canvasOf, saveBlob } from './store.js';

const v = {
  panel: $('video-panel'), info: $('video-info'), fps: $('video-fps'), start: $('video-start'), end: $('video-end'),
  frameIterations: $('video-frame-iterations'), temporalWeight: $('video-temporal-weight'), independent: $('video-independent'),
  clear: $('video-clear'), strip: $('frame-strip'), downloadVideo: $('download-video'), downloadFrames: $('download-frames'),
};

/** The number of frames the chosen range gives at the chosen rate. */
function frameCount() {
  const { duration } = state.video;
  const fps = Number(v.fps.value);
  const to = Math.min(Number(v.end.value) || duration, duration);
  return Math.max(0, Math.floor((to - Number(v.start.value)) * fps + 1e-6));
}

function showInfo() {
  if (!state.video) return;
  const n = frameCount();
  v.info.textContent = `${state.video.name}: ${state.video.duration.toFixed(1)} s, ${state.video.width} × ${state.video.height} px → ${n} frame${n === 1 ? '' : 's'}`
    + (n > MAX_FRAMES ? ` (more than ${MAX_FRAMES}: choose a shorter range)` : '');
}

/**
 * Selects the video `file` instead of a photo: its first frame becomes the photo of the other
 * panels (thumbnail, regions, the memory plan); the range defaults to its first 3 seconds.
 */
export async function setVideo(file) {
  const pick = ++state.contentPick;
  try {
    const first = await decodeVideo(file, { fps: 1, end: 1, maxSide: 2048 });
    if (pick !== state.contentPick) return; // a later choice came first
    const frame = { ...first.frames[0], name: file.name };
    state.video = { file, name: file.name, duration: first.duration, width: first.width, height: first.height };
    state.images.content = frame;
    const url = URL.createObjectURL(await canvasOf(frame).convertToBlob());
    if (state.urls.content?.startsWith('blob:')) URL.revokeObjectURL(state.urls.content);
    state.urls.content = url;
    const picker = $('content-picker');
    Object.assign(picker.querySelector('.thumb'), { src: url, alt: `Selected video: ${file.name}` });
    picker.classList.add('has-image');
    ui.before.src = url;
    Object.assign(v.start, { value: 0, max: first.duration });
    Object.assign(v.end, { value: Math.min(3, first.duration).toFixed(1), max: first.duration });
    v.panel.hidden = false;
    showInfo();
    changed('images');
  } catch (e) {
    showError(e); // the previous photo or video stays selected
  }
}

/** Back to a photo: the video and its first frame are forgotten; the picker waits for a photo. */
export function clearVideo() {
  state.video = null;
  state.images.content = null;
  v.panel.hidden = true;
  v.strip.hidden = true;
  const picker = $('content-picker');
  picker.classList.remove('has-image');
  Object.assign(picker.querySelector('.thumb'), { alt: 'Selected photo' });
  picker.querySelector('.thumb').removeAttribute('src');
  changed('images');
}

/**
 * For a run on the chosen video: its frames decoded at the output size, and the video options of
 * StyleTransfer.run; null when a photo is chosen. Rejects with 'Video' for a bad range.
 */
export async function videoRunArgs(size) {
  if (!state.video) return null;
  const fps = Number(v.fps.value);
  const n = frameCount();
  if (n < 1) throw named('Video', 'The range holds no frame: set "from" before "to".');
  if (n > MAX_FRAMES) throw named('Video', `${n} frames is more than ${MAX_FRAMES}: choose a shorter range or fewer frames per second.`);
  const clip = await decodeVideo(state.video.file, {
    fps, start: Number(v.start.value), end: Number(v.end.value) || Infinity, maxSide: size,
    onProgress: (k, total) => setStatus(`Reading the video… frame ${k} of ${total}`),
  });
  state.videoFps = fps;
  v.strip.replaceChildren();
  v.strip.hidden = false;
  return {
    video: clip.frames, frameIterations: Number(v.frameIterations.value), temporalWeight: Number(v.temporalWeight.value), independent: v.independent.checked,
  };
}

/** A finished frame: a thumbnail in the strip (clicking it shows the frame in the preview). */
function addFrame({ frame, image, temporalError }) {
  const c = document.createElement('canvas');
  Object.assign(c, { width: image.width, height: image.height, className: 'frame', tabIndex: 0 });
  c.setAttribute('role', 'listitem');
  c.ariaLabel = `Frame ${frame + 1}` + (temporalError != null ? `, temporal error ${temporalError.toFixed(2)}` : '');
  c.title = c.ariaLabel;
  c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), image.width, image.height), 0, 0);
  v.strip.append(c);
  c.scrollIntoView?.({ block: 'nearest', inline: 'end' });
  changed('run');
}

/** Listens to a video run's frames; returns the way to stop. */
export function followFrames(st) {
  const onFrame = (e) => addFrame(e.detail);
  st.addEventListener('frame', onFrame);
  return () => st.removeEventListener('frame', onFrame);
}

const stem = () => (state.video?.name ?? 'video').replace(/\.\w+$/, '');

async function downloadFrames(why = '') {
  const frames = state.st.frames;
  setStatus(`${why}Packing ${frames.length} frames as PNGs…`);
  saveBlob(await zipFrames(frames, frames.map((f) => f.record)), `${stem()}-stylized-frames.zip`);
  setStatus(`${why}Downloaded ${frames.length} frames as a ZIP of PNGs.`);
}

v.downloadFrames.addEventListener('click', () => downloadFrames().catch(showError));
v.downloadVideo.addEventListener('click', async () => {
  const frames = state.st.frames;
  try {
    setStatus(`Encoding ${frames.length} frames…`);
    const t = performance.now();
    const blob = await encodeVideo(frames, { fps: state.videoFps });
    saveBlob(blob, `${stem()}-stylized.${blob.type === 'video/mp4' ? 'mp4' : 'webm'}`);
    setStatus(`Downloaded a ${(blob.size / 1024).toFixed(0)} KB ${blob.type} video of ${frames.length} frames (encoded in ${fmtTime((performance.now() - t) / 1000)}).`);
  } catch (e) {
    if (e.name !== 'NoEncoder') { showError(e); return; }
    await downloadFrames('This browser cannot encode video, so the frames come as PNGs. ').catch(showError);
  }
});

v.clear.addEventListener('click', clearVideo);
for (const el of [v.fps, v.start, v.end]) el.addEventListener('input', showInfo);

function update() {
  const frames = state.st?.video ? state.st.frames.length : 0;
  v.downloadVideo.hidden = v.downloadFrames.hidden = !state.video && !frames;
  v.downloadVideo.disabled = v.downloadFrames.disabled = busy() || frames === 0;
  v.downloadVideo.textContent = frames ? `Download video (${frames} frames)` : 'Download video';
  ui.larger.hidden = Boolean(state.video);
}
on('images run engine', update);

/** The form's later-frame fields from the engine's defaults (once the engine is loaded). */
export function fillVideoDefaults() {
  const d = videoDefaults();
  v.frameIterations.value = d.frameIterations;
  v.temporalWeight.value = d.temporalWeight;
}
