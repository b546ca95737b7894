// main.js — the stylize page: starts the engine (WebGPU checked, the weights loaded), the samples
// and the panels — pickers.js, video.js, settings-form.js, regions.js, blend.js, run.js — which share
// store.js. A thin shell over stylize-api.js; all GPU work happens in the wasm engine.

import { StyleTransfer, loadWasm, webgpuStatus } from '../stylize-api.js';
import { $, ui, state, changed, busy, setStatus, showError, named } from './store.js';
import { loadSamples } from './pickers.js';
import { fillSettings, readSettings } from './settings-form.js';
import './regions.js';
import './blend.js';
import './run.js';
import { fillVideoDefaults } from './video.js';

/** A StyleTransfer on `weights` (default: the page's own, cached), the download shown. */
async function startEngine(weights) {
  // ?conv=tiled|direct and ?precision=f32|f16 force the GPU configuration; ?break=NAME makes the
  // kernels whose name contains NAME fail to compile (testing the fallback).
  const q = new URLSearchParams(location.search);
  const st = await StyleTransfer.create({
    weights,
    conv: q.get('conv'),
    precision: q.get('precision'),
    breakKernels: q.get('break'),
    onWeightsProgress: (got, total, cached) => {
      ui.weightsProgress.hidden = false;
      ui.weightsProgress.max = total || got;
      ui.weightsProgress.value = got;
      const mb = (b) => (b / 2 ** 20).toFixed(1);
      setStatus(`${cached ? 'Loading cached' : 'Downloading'} model weights… ${mb(got)}${total ? ` / ${mb(total)}` : ''} MB`);
    },
  });
  ui.weightsProgress.hidden = true;
  return st;
}

ui.weightsFile.addEventListener('change', async () => {
  const f = ui.weightsFile.files[0];
  if (!f) return;
  ui.weightsFile.value = '';
  if (busy()) { showError(named('Busy', 'Stop the current run before changing the weights.')); return; }
  setStatus(`Loading weights from ${f.name}…`);
  try {
    const st = await startEngine(new Uint8Array(await f.arrayBuffer()));
    const replaced = state.st;
    state.st = st;
    replaced?.close(); // its session and device hold GPU memory that garbage collection does not see
    ui.weightsStatus.textContent = `Using local weights: ${f.name}.`;
    readyStatus(/\bCpu\b/.test(st.adapterSummary), ` with your weights file ${f.name}`);
  } catch (e) {
    setStatus(state.st ? 'Ready (kept the previous weights).' : 'No weights loaded.');
    showError(e);
  }
  changed('engine');
});

// Offline use and installing as an app: the service worker caches the page, the wasm and the
// samples (the weights have their own cache).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js').catch((e) => console.warn(`stylize: offline use unavailable (${e.message})`));
}

/** The ready line, for a person: where it runs and what to expect; the adapter's details behind a disclosure. */
function readyStatus(software, extra = '') {
  const name = state.st.adapterSummary.split(' (')[0];
  const gpuName = name && name !== 'WebGPU adapter' ? ` (${name})` : '';
  setStatus(software
    ? `Ready${extra}, but slowly: this browser gives WebGPU no graphics card, so it runs on the processor. Sizes up to about 128 px finish in minutes; for larger pictures use a browser with hardware acceleration on.`
    : `Ready${extra} — it runs on your graphics card${gpuName}. Pick a photo and a painting, or use the samples, and press Stylize.`);
  const details = $('gpu-details');
  details.hidden = false;
  details.querySelector('pre').textContent = state.st.adapter;
}

async function main() {
  const gpu = await webgpuStatus();
  if (!gpu.ok) {
    setStatus('This browser cannot run stylize.');
    showError(named('NoWebGPU', gpu.message));
    document.body.classList.add('no-webgpu');
    return;
  }
  setStatus('Loading…');
  try {
    await loadWasm();
    state.defaults = StyleTransfer.defaults();
    fillSettings({ ...state.defaults, size: 256 });
    fillVideoDefaults();
    const samples = loadSamples().catch((e) => showError(new Error(`Could not load the sample images: ${e.message}`)));
    state.st = await startEngine();
    await samples;
    const software = gpu.fallback || /\bCpu\b/.test(state.st.adapterSummary);
    if (software) fillSettings({ ...readSettings(), size: 128 });
    readyStatus(software);
  } catch (e) {
    setStatus('Not ready.');
    showError(e, e.name === 'Weights' ? { label: 'Choose a local weights file', run: () => ui.weightsFile.click() } : null);
  }
  changed('engine');
}
main();
