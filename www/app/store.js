// store.js — the page's one store: its state (every field declared here), the elements it shows
// in, the status and error lines, and change notices between the panels (a panel announces what
// it changed; the panels that show it listen), so no panel reaches into another.

export const $ = (id) => document.getElementById(id);

export const state = {
  st: null, // the StyleTransfer: the engine and its run (stylize-api.js)
  defaults: null, // the engine's default settings
  restored: null, // what a dropped result's record set beyond the form (schedule, history, …)
  images: { content: null, style: null }, // the decoded photo and first painting
  urls: { content: null, style: null }, // their thumbnails' URLs
  more: [], // further paintings to blend: { img, url, share, scale }
  firstShare: 1, // the first painting's share of the blend
  result: null, // the last run's result: { width, height, iteration, stopped }
  totalIterations: null, // iterations of the run over all scales (the plot's x range)
  pasteTarget: 'content', // the picker a pasted image goes to
  video: null, // a video chosen instead of a photo: { file, name, duration, width, height } (video.js)
  videoFps: 12, // the frame rate of the last video run (its file's)
  preparing: false, // a run is being prepared (a video's frames decoding): as busy as a run
  contentPick: 0, // counts photo/video choices, so a slow decode never replaces a later choice
};
window.__stylize = state; // for tests and the curious

export const ui = {
  status: $('status'), error: $('error'), errorText: $('error-text'), errorFix: $('error-fix'),
  weightsProgress: $('weights-progress'), go: $('go'), pause: $('pause'), resume: $('resume'), stop: $('stop'),
  progress: $('progress'), progressText: $('progress-text'), preview: $('preview'), before: $('before'),
  comparePos: $('compare-pos'), plot: $('lossplot'), download: $('download'), larger: $('larger'), memory: $('memory'),
  form: $('settings'), weightsFile: $('weights-file'), weightsStatus: $('weights-status'),
};

/** Whether a run is starting, running or paused (the API's `busy`). */
export const busy = () => Boolean(state.st?.busy) || state.preparing;

/** Whether a run is going and can be steered (running or paused). */
export const steerable = () => ['running', 'paused'].includes(state.st?.state);

const listeners = new Map();

/**
 * Calls `fn` whenever one of `topics` changes: 'images' (the photo or a painting), 'paintings'
 * (the blend's list), 'settings' (the form), 'regions' (a mask), 'engine' (a new StyleTransfer),
 * 'run' (a run's state).
 */
export function on(topics, fn) {
  for (const t of topics.split(' ')) listeners.set(t, [...(listeners.get(t) ?? []), fn]);
}

/** Announces that `topic` changed: each listener runs once, whichever topics it listens to. */
export function changed(...topics) {
  const fns = new Set(topics.flatMap((t) => listeners.get(t) ?? []));
  for (const fn of fns) fn();
}

export function setStatus(text) { ui.status.textContent = text; }

/** Shows an error line (`fix`: an optional { label, run } button that offers the way out). */
export function showError(err, fix) {
  console.warn(err);
  ui.errorText.textContent = err.message || String(err);
  ui.error.hidden = false;
  ui.error.dataset.kind = err.name || 'Error';
  if (fix) {
    ui.errorFix.textContent = fix.label;
    ui.errorFix.onclick = () => { hideError(); fix.run(); };
    ui.errorFix.hidden = false;
  } else {
    ui.errorFix.hidden = true;
  }
}
export function hideError() { ui.error.hidden = true; }
$('error-dismiss').addEventListener('click', hideError);

/** An Error with a name (the API's error names: Settings, TooLarge, …). */
export const named = (name, message) => Object.assign(new Error(message), { name });

export function fmtBytes(b) { return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`; }

export function fmtTime(s) {
  if (s == null || !isFinite(s)) return '–';
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

/** Saves `blob` as a download named `name`. */
export function saveBlob(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** An RGBA image ({ data, width, height }) on an OffscreenCanvas. */
export function canvasOf(img) {
  const c = new OffscreenCanvas(img.width, img.height);
  c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
  return c;
}
