// run.js — the run controls: Stylize, Continue larger, Pause/Resume/Stop, the progress line, the
// loss plot, the before/after slider and Download; what a failed run offers (resume after a GPU
// failure).

import { ui, state, on, changed, busy, setStatus, showError, hideError, named, fmtTime, saveBlob } from './store.js';
import { fields, readSettings } from './settings-form.js';
import { paintings } from './blend.js';
import { regionMaskImage, styleMaskImages } from './regions.js';
import { drawPlot } from './plot.js';
import { followFrames, videoRunArgs } from './video.js';

function updateButtons() {
  const s = state.st?.state;
  const going = busy();
  ui.go.disabled = !state.st || going || !state.images.content || !state.images.style;
  ui.pause.disabled = s !== 'running';
  ui.resume.disabled = s !== 'paused';
  ui.stop.disabled = !going;
  ui.download.disabled = !state.result;
  const side = state.result ? Math.max(state.result.width, state.result.height) : Infinity;
  const larger = state.result && state.result.frames == null && Number(fields.size.value) > side;
  ui.larger.disabled = going || !larger;
  ui.larger.textContent = larger ? `Continue larger (${side} → ${fields.size.value} px)` : 'Continue larger';
  ui.comparePos.disabled = !state.result || state.result.frames != null;
  ui.form.classList.toggle('busy', going);
}
on('images settings run engine', updateButtons);

const plot = () => drawPlot(ui.plot, { history: state.st?.history, settings: state.st?.settings, steers: state.st?.steers, maxIteration: state.totalIterations });

/** The GPU fallbacks a StyleTransfer took (a kernel its GPU could not compile), under the status. */
function showNotes(st) {
  const note = document.getElementById('gpu-note');
  note.hidden = st.notes.length === 0;
  note.textContent = st.notes.map((n) => `Note: ${n}.`).join(' ');
}

/** Whether `settings` fit this GPU; if not, says so and offers the largest size that fits. */
function fits(settings) {
  try {
    const p = state.st.plan(state.images.content, paintings(), settings);
    if (p.fits) return true;
    const fix = p.maxSize > 0 ? { label: `Use ${p.maxSize} px`, run: () => { fields.size.value = p.maxSize; changed('settings'); runOrResume('run'); } } : undefined;
    showError(named('TooLarge', `${settings.size} px does not fit this GPU's memory, even in tiles.`), fix);
  } catch (e) { showError(e); }
  return false;
}

/** Listens to the run's events (progress, losses, steering, fallbacks); returns the way to stop. */
function follow(st) {
  const handlers = {
    progress: (e) => {
      const { iteration, iterations, itPerSec, etaSeconds, scale, scales, width, height, tiles, frame, frames } = e.detail;
      state.totalIterations = iterations;
      const video = frames != null;
      ui.progress.max = video ? frames : iterations; // a video's bar counts frames
      ui.progress.value = video ? frame + iteration / iterations : iteration;
      const where = (video ? `Frame ${frame + 1} of ${frames} · ` : '') + (scales > 1 ? `Scale ${scale + 1} of ${scales} · ${width} × ${height} px · ` : '') + (tiles > 1 ? `${tiles} tiles · ` : '');
      ui.progressText.textContent = `${where}Iteration ${iteration} / ${iterations} · ${itPerSec.toFixed(2)} it/s · ETA ${video ? 'clip ' : ''}${fmtTime(etaSeconds)}`;
      changed('run'); // the run has left 'starting'
    },
    losses: plot,
    steer: (e) => { plot(); setStatus(`Stylizing… steered at iteration ${e.detail.iteration}.`); },
    fallback: () => showNotes(st),
  };
  for (const [type, fn] of Object.entries(handlers)) st.addEventListener(type, fn);
  return () => { for (const [type, fn] of Object.entries(handlers)) st.removeEventListener(type, fn); };
}

/** What a run that threw leaves: the last good result, and a way on where there is one. */
function failed(st, e) {
  state.result = st.lastGood ? { width: st.lastGood.width, height: st.lastGood.height, iteration: st.lastGood.runIteration } : null;
  if (e.name === 'DeviceLost' || e.name === 'Gpu') {
    setStatus('The GPU stopped working.');
    const label = st.lastGood ? `Resume from iteration ${st.lastGood.runIteration}` : 'Start again on a new GPU device';
    showError(e, st.inputs ? { label, run: () => runOrResume('recover') } : null);
  } else {
    setStatus(e.name === 'NotFinite' ? 'Stopped: the optimisation diverged.' : 'Stopped by an error.');
    showError(e);
  }
}

/** mode: 'run' (a new run), 'recover' (after a GPU failure), 'larger' (Continue larger). */
async function runOrResume(mode) {
  hideError();
  const st = state.st;
  const settings = readSettings();
  if (mode !== 'recover') {
    if (!fits(settings)) return;
    state.result = null;
  }
  ui.before.hidden = true;
  ui.comparePos.value = 0;
  const started = performance.now();
  let video = null;
  state.preparing = true; // Stylize stays disabled while a video's frames decode
  changed('run');
  try {
    video = mode === 'run' ? await videoRunArgs(settings.size) : null;
  } catch (e) {
    showError(e);
    return;
  } finally {
    state.preparing = false;
    changed('run');
  }
  const unfollow = follow(st);
  const unfollowFrames = followFrames(st);
  setStatus('Stylizing…');
  state.totalIterations = null;
  const masked = settings.regions.length > 0;
  const p = mode === 'recover' ? st.recover()
    : mode === 'larger' ? st.continueLarger(settings.size, settings)
    : st.run({ content: state.images.content, style: paintings(), settings, canvas: ui.preview,
      mask: masked ? regionMaskImage() : null, styleMasks: masked ? styleMaskImages() : null, ...video });
  changed('run');
  try {
    const r = await p;
    state.result = r;
    const secs = (performance.now() - started) / 1000;
    const what = r.frames != null ? `${r.frames} frame${r.frames === 1 ? '' : 's'}, ${r.iteration} iterations` : `${r.iteration} iterations`;
    setStatus(`${r.stopped ? 'Stopped' : 'Done'} after ${what} in ${fmtTime(secs)} — ${r.width}×${r.height} px.`);
    ui.before.hidden = r.frames != null; // a video's preview is its last frame, not the first frame shown there
  } catch (e) {
    failed(st, e);
  } finally {
    unfollow();
    unfollowFrames();
    plot();
    changed('run');
  }
}

ui.form.addEventListener('submit', (e) => { e.preventDefault(); runOrResume('run'); });
ui.larger.addEventListener('click', () => runOrResume('larger'));
ui.pause.addEventListener('click', () => { state.st.pause(); setStatus('Paused.'); changed('run'); });
ui.resume.addEventListener('click', () => { state.st.resume(); setStatus('Stylizing…'); changed('run'); });
ui.stop.addEventListener('click', () => { state.st.stop(); changed('run'); });
ui.comparePos.addEventListener('input', () => {
  ui.before.style.clipPath = `inset(0 ${100 - Number(ui.comparePos.value)}% 0 0)`;
});
ui.download.addEventListener('click', async () => {
  try {
    saveBlob(await state.st.pngBlob(), 'stylized.png');
  } catch (e) { showError(e); }
});
