// app.js — the stylize page: pickers, settings, run controls, preview, loss plot, download.
// A thin shell over stylize-api.js; all GPU work happens in the wasm engine.

import { StyleTransfer, decodeImage, loadWasm, webgpuStatus, readRecord } from './stylize-api.js';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'), error: $('error'), errorText: $('error-text'), errorFix: $('error-fix'),
  weightsProgress: $('weights-progress'), go: $('go'), pause: $('pause'), resume: $('resume'), stop: $('stop'),
  progress: $('progress'), progressText: $('progress-text'), preview: $('preview'), before: $('before'),
  comparePos: $('compare-pos'), plot: $('lossplot'), download: $('download'), larger: $('larger'), memory: $('memory'),
  form: $('settings'), weightsFile: $('weights-file'), weightsStatus: $('weights-status'),
};
const state = { st: null, images: { content: null, style: null }, urls: { content: null, style: null }, defaults: null, result: null,
  more: [], firstShare: 1 }; // more: further paintings to blend, {img, url, share, scale}
window.__stylize = state; // for tests and the curious

function setStatus(text) { ui.status.textContent = text; }

function showError(err, fix) {
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
function hideError() { ui.error.hidden = true; }
$('error-dismiss').addEventListener('click', hideError);

// ---------------------------------------------------------------- settings
const fields = {
  size: $('size'), iterations: $('iterations'), content_weight: $('content-weight'), tv_weight: $('tv-weight'),
  init: $('init'), seed: $('seed'), lr: $('lr'), pooling: $('pooling'), optimizer: $('optimizer'), scales: $('scales'),
  colors: $('colors'), style_scale: $('style-scale'),
};
function fillSettings(s) {
  for (const [k, el] of Object.entries(fields)) el.value = s[k] ?? '';
  $('average').checked = s.average;
  $('strength').value = Math.log10(s.style_weight);
  document.querySelectorAll('.layer-w').forEach((el, i) => (el.value = s.style_layer_weights[i]));
  updateLabels();
}
function readSettings() {
  const num = (el) => Number(el.value);
  return {
    ...state.defaults,
    ...state.restored, // what a dropped result's record set beyond the form (schedule, history, ...)
    size: num(fields.size), iterations: Math.round(num(fields.iterations)),
    content_weight: num(fields.content_weight), tv_weight: num(fields.tv_weight),
    style_weight: Number((10 ** Number($('strength').value)).toPrecision(3)),
    init: fields.init.value, seed: Math.round(num(fields.seed)), lr: fields.lr.value === '' ? null : num(fields.lr), pooling: fields.pooling.value,
    optimizer: fields.optimizer.value, scales: Number(fields.scales.value), average: $('average').checked, colors: fields.colors.value,
    style_scale: num(fields.style_scale),
    style_layer_weights: Array.from(document.querySelectorAll('.layer-w'), num),
    ...blendSettings(num(fields.style_scale)),
    regions: regionSettings(),
  };
}

// ---------------------------------------------------------------- regions (brush and mask)
// One mask per surface — the photo ('photo') and each painting (0, 1, …) — a canvas at the image's
// shape (longer side 512): transparent where unpainted, else one of four flat colours. The photo's
// colours are the regions, each given a painting or the photo; a painting's mask (a style mask)
// says which part of that painting each region takes (its unpainted part: the photo's rest).
const REGION_COLORS = [[230, 25, 75], [0, 110, 230], [50, 200, 40], [255, 225, 25]];
const regions = { masks: new Map(), on: 'photo', tool: 0, undo: [], takes: [0, null, 0, 0], drawing: false, last: null,
  get mask() { return this.masks.get(this.on)?.mask ?? null; } };
/** The image under surface `on`: the photo, or painting k. */
function surfaceImage(on) {
  if (on === 'photo') return state.images.content;
  return on === 0 ? state.images.style : state.more[on - 1]?.img ?? null;
}
/** The mask of surface `on`, made (blank) for its current image; null without an image. */
function surfaceMask(on) {
  const img = surfaceImage(on);
  if (!img) return null;
  let entry = regions.masks.get(on);
  if (!entry || entry.source !== img) {
    const k = 512 / Math.max(img.width, img.height);
    const mask = document.createElement('canvas');
    mask.width = Math.max(1, Math.round(img.width * k));
    mask.height = Math.max(1, Math.round(img.height * k));
    const picture = new OffscreenCanvas(img.width, img.height);
    picture.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
    entry = { source: img, mask, picture };
    regions.masks.set(on, entry);
    regions.undo = regions.undo.filter((u) => u.on !== on);
  }
  return entry;
}
function drawRegions() {
  const view = $('region-canvas');
  if (regions.on !== 'photo' && !surfaceImage(regions.on)) regions.on = 'photo';
  const entry = surfaceMask(regions.on);
  if (!entry) return;
  view.width = entry.mask.width;
  view.height = entry.mask.height;
  view.setAttribute('aria-label', `${regions.on === 'photo' ? 'The photo' : `Painting ${regions.on + 1}`} with the painted regions; drag to paint`);
  const ctx = view.getContext('2d');
  ctx.drawImage(entry.picture, 0, 0, view.width, view.height);
  ctx.globalAlpha = 0.55;
  ctx.drawImage(entry.mask, 0, 0);
  ctx.globalAlpha = 1;
}
/** Which region colours a mask uses (a scan of its pixels). */
function usedRegions(mask = regions.masks.get('photo')?.mask) {
  if (!mask) return [];
  const d = mask.getContext('2d').getImageData(0, 0, mask.width, mask.height).data;
  const used = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    const k = REGION_COLORS.findIndex((c) => Math.abs(c[0] - d[i]) + Math.abs(c[1] - d[i + 1]) + Math.abs(c[2] - d[i + 2]) < 60);
    if (k >= 0) used.add(k);
  }
  return [...used].sort();
}
/** settings.regions for the colours painted on the photo (none when nothing is painted). */
function regionSettings() {
  if (regions.masks.get('photo')?.source !== state.images.content) return [];
  const npaint = 1 + state.more.length;
  return usedRegions().map((k) => ({ color: REGION_COLORS[k], painting: regions.takes[k] == null ? null : Math.min(regions.takes[k], npaint - 1) }));
}
/** The mask image of surface `on` for the engine: painted colours on black (black is no region). */
function regionMaskImage(on = 'photo') {
  const m = regions.masks.get(on).mask;
  const c = new OffscreenCanvas(m.width, m.height);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, m.width, m.height);
  ctx.drawImage(m, 0, 0);
  const name = on === 'photo' ? 'painted regions' : `painted regions of painting ${on + 1}`;
  return { data: new Uint8Array(ctx.getImageData(0, 0, m.width, m.height).data.buffer), width: m.width, height: m.height, name };
}
/** Each painting's style mask (null where nothing is painted on it), or null when none has one. */
function styleMaskImages() {
  const masks = [];
  for (let k = 0; k < 1 + state.more.length; k++) {
    const e = regions.masks.get(k);
    masks.push(e && e.source === surfaceImage(k) && usedRegions(e.mask).length ? regionMaskImage(k) : null);
  }
  return masks.some((m) => m) ? masks : null;
}
/** The "Paint on" choices: the photo and each painting. */
function renderSurfaces() {
  const sel = $('region-surface');
  const npaint = 1 + state.more.length;
  sel.replaceChildren(new Option('the photo (its regions)', 'photo'));
  for (let k = 0; k < npaint; k++) sel.append(new Option(`painting ${k + 1} (the part each region takes)`, String(k)));
  if (regions.on !== 'photo' && regions.on >= npaint) regions.on = 'photo';
  sel.value = String(regions.on);
}
$('region-surface').addEventListener('change', (e) => {
  regions.on = e.target.value === 'photo' ? 'photo' : Number(e.target.value);
  drawRegions();
});
function renderRegionAssign() {
  renderSurfaces();
  const box = $('region-assign');
  box.replaceChildren();
  const npaint = 1 + state.more.length;
  REGION_COLORS.forEach((c, k) => {
    const l = document.createElement('label');
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.setProperty('--c', `rgb(${c.join(',')})`);
    const sel = document.createElement('select');
    sel.setAttribute('aria-label', `What region ${k + 1} takes`);
    sel.dataset.region = k;
    for (let p = 0; p < npaint; p++) sel.append(new Option(`Painting ${p + 1}`, String(p)));
    sel.append(new Option('the photo (no style)', 'photo'));
    sel.value = regions.takes[k] == null ? 'photo' : String(Math.min(regions.takes[k], npaint - 1));
    sel.addEventListener('change', () => { regions.takes[k] = sel.value === 'photo' ? null : Number(sel.value); updateMemory(); });
    l.append(dot, `Region ${k + 1} takes`, sel);
    box.append(l);
  });
}
function regionPoint(e) {
  const v = $('region-canvas');
  const r = v.getBoundingClientRect();
  return [(e.clientX - r.left) * (v.width / r.width), (e.clientY - r.top) * (v.height / r.height)];
}
function paintTo(p) {
  const ctx = regions.mask.getContext('2d');
  ctx.globalCompositeOperation = regions.tool === 'eraser' ? 'destination-out' : 'source-over';
  ctx.strokeStyle = ctx.fillStyle = regions.tool === 'eraser' ? '#000' : `rgb(${REGION_COLORS[regions.tool].join(',')})`;
  ctx.lineWidth = Number($('region-brush').value);
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(...(regions.last ?? p));
  ctx.lineTo(...p);
  ctx.stroke();
  ctx.globalCompositeOperation = 'source-over';
  regions.last = p;
  drawRegions();
}
/** Keeps the current mask's pixels for Undo. */
function pushUndo() {
  regions.undo.push({ on: regions.on, mask: regions.mask, data: regions.mask.getContext('2d').getImageData(0, 0, regions.mask.width, regions.mask.height) });
  if (regions.undo.length > 30) regions.undo.shift();
}
$('region-canvas').addEventListener('pointerdown', (e) => {
  if (!regions.mask) return;
  e.preventDefault();
  $('region-canvas').setPointerCapture(e.pointerId);
  pushUndo();
  regions.drawing = true;
  regions.last = null;
  paintTo(regionPoint(e));
});
$('region-canvas').addEventListener('pointermove', (e) => { if (regions.drawing) paintTo(regionPoint(e)); });
for (const type of ['pointerup', 'pointercancel']) $('region-canvas').addEventListener(type, () => { regions.drawing = false; updateMemory(); });
function selectTool(tool) {
  regions.tool = tool;
  document.querySelectorAll('.region-tools .swatch').forEach((b) => b.classList.toggle('active', Number(b.dataset.region) === tool));
  $('region-eraser').classList.toggle('active', tool === 'eraser');
}
document.querySelectorAll('.region-tools .swatch').forEach((b) => b.addEventListener('click', () => selectTool(Number(b.dataset.region))));
$('region-eraser').addEventListener('click', () => selectTool('eraser'));
$('region-undo').addEventListener('click', () => {
  const prev = regions.undo.pop();
  if (!prev) return;
  prev.mask.getContext('2d').putImageData(prev.data, 0, 0);
  regions.on = prev.on; // show what was undone
  renderSurfaces();
  drawRegions();
  updateMemory();
});
$('region-clear').addEventListener('click', () => {
  if (!regions.mask) return;
  const ctx = regions.mask.getContext('2d');
  pushUndo();
  ctx.clearRect(0, 0, regions.mask.width, regions.mask.height);
  drawRegions();
  updateMemory();
});
$('region-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || !regions.mask) return;
  try {
    const img = await decodeImage(f);
    const src = new OffscreenCanvas(img.width, img.height);
    src.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
    const ctx = regions.mask.getContext('2d');
    pushUndo();
    ctx.clearRect(0, 0, regions.mask.width, regions.mask.height);
    ctx.imageSmoothingEnabled = false; // flat colours stay flat
    ctx.drawImage(src, 0, 0, regions.mask.width, regions.mask.height);
    // Pixels of no region colour become unpainted.
    const d = ctx.getImageData(0, 0, regions.mask.width, regions.mask.height);
    for (let i = 0; i < d.data.length; i += 4) {
      const near = REGION_COLORS.some((c) => Math.abs(c[0] - d.data[i]) + Math.abs(c[1] - d.data[i + 1]) + Math.abs(c[2] - d.data[i + 2]) < 60);
      if (!near) d.data[i + 3] = 0;
    }
    ctx.putImageData(d, 0, 0);
    hideError();
    drawRegions();
    updateMemory();
  } catch (err) { showError(err); }
});
$('regions-panel').addEventListener('toggle', () => { drawRegions(); renderRegionAssign(); });
selectTool(0);

// ---------------------------------------------------------------- blending paintings
/** style_blend (normalised shares) and style_scales for the paintings chosen; none for one. */
function blendSettings(firstScale) {
  if (!state.more.length) return { style_blend: [], style_scales: [] };
  const shares = [state.firstShare, ...state.more.map((m) => m.share)];
  const sum = shares.reduce((a, b) => a + b, 0) || 1;
  return { style_blend: shares.map((v) => Number((v / sum).toFixed(4))), style_scales: [firstScale, ...state.more.map((m) => m.scale)] };
}
/** Every painting of the run: the picker's, then the blended ones. */
function paintings() {
  return state.more.length ? [state.images.style, ...state.more.map((m) => m.img)] : state.images.style;
}
function renderBlend() {
  renderRegionAssign(); // its choices list the paintings
  const rows = $('blend-rows');
  rows.replaceChildren();
  $('blend-help').hidden = state.more.length === 0;
  if (!state.more.length) return;
  const pct = blendSettings(1).style_blend.map((v) => `${Math.round(v * 100)}%`);
  const row = (img, label, share, onShare, scale, onScale, onRemove) => {
    const r = document.createElement('div');
    r.className = 'blend-row';
    const t = document.createElement('img');
    t.src = img;
    t.alt = label;
    const s1 = document.createElement('label');
    s1.innerHTML = '<span class="share-label"></span><input type="range" min="0" max="1" step="0.05" data-steer>';
    s1.querySelector('span').textContent = `${label}: ${pct[share.i]}`;
    const sr = s1.querySelector('input');
    sr.value = share.v;
    sr.setAttribute('aria-label', `${label}'s share`);
    sr.addEventListener('input', () => { onShare(Number(sr.value)); updateBlendLabels(); steerSoon(); });
    r.append(t, s1);
    if (onRemove) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Remove';
      b.addEventListener('click', onRemove);
      r.append(b);
    } else {
      r.append(document.createElement('span'));
    }
    if (onScale) {
      const s2 = document.createElement('label');
      s2.innerHTML = 'scale <input type="range" min="0.25" max="2" step="0.05"><output></output>';
      const rr = s2.querySelector('input');
      rr.value = scale;
      rr.setAttribute('aria-label', `${label}'s scale`);
      s2.querySelector('output').textContent = `${Number(scale).toFixed(2)}×`;
      rr.addEventListener('input', () => { onScale(Number(rr.value)); s2.querySelector('output').textContent = `${Number(rr.value).toFixed(2)}×`; updateMemory(); });
      r.append(s2);
    } else {
      const note = document.createElement('small');
      note.textContent = 'scale: the painting-scale slider';
      r.append(note);
    }
    rows.append(r);
  };
  row(state.urls.style, 'Painting 1', { i: 0, v: state.firstShare }, (v) => { state.firstShare = v; }, null, null, null);
  state.more.forEach((m, k) => row(m.url, `Painting ${k + 2}`, { i: k + 1, v: m.share }, (v) => { m.share = v; }, m.scale, (v) => { m.scale = v; }, () => {
    if (['running', 'paused', 'starting'].includes(state.st?.state)) { showError(new Error('The paintings of a run cannot change while it runs: stop it first.')); return; }
    state.more.splice(k, 1);
    if (m.url.startsWith('blob:')) URL.revokeObjectURL(m.url);
    renderBlend();
    updateMemory();
  }));
}
function updateBlendLabels() {
  const pct = blendSettings(1).style_blend;
  document.querySelectorAll('#blend-rows .share-label').forEach((el, i) => { el.textContent = `Painting ${i + 1}: ${Math.round(pct[i] * 100)}%`; });
}
$('add-painting').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f) return;
  if (state.more.length >= 3) { showError(new Error('At most four paintings can be blended.')); return; }
  if (['running', 'paused', 'starting'].includes(state.st?.state)) { showError(new Error('The paintings of a run cannot change while it runs: stop it first.')); return; }
  try {
    const img = await decodeImage(f);
    state.more.push({ img, url: URL.createObjectURL(f), share: 1, scale: Number(fields.style_scale.value) });
    hideError();
    renderBlend();
    updateMemory();
  } catch (err) { showError(err); }
});
function fmtBytes(b) { return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`; }
function updateLabels() {
  $('strength-out').textContent = `β = ${(10 ** Number($('strength').value)).toPrecision(3)}`;
  $('size-out').textContent = `${fields.size.value} px`;
  $('style-scale-out').textContent = `${Number(fields.style_scale.value).toFixed(2)}×`;
  updateMemory();
  drawStyleScale();
}

/** The painting at the chosen scale, tiled over a frame of the output's shape. */
let styleCanvas = null; // the painting as a canvas, made once per painting
function drawStyleScale() {
  const c = $('style-scale-preview');
  const { content, style } = state.images;
  const ctx = c.getContext('2d');
  if (!content || !style) { ctx.clearRect(0, 0, c.width, c.height); return; }
  if (styleCanvas?.source !== style) {
    const canvas = new OffscreenCanvas(style.width, style.height);
    canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(style.data), style.width, style.height), 0, 0);
    styleCanvas = { source: style, canvas };
  }
  const h = Math.max(1, Math.round(160 * content.height / content.width));
  if (c.height !== h) c.height = h;
  // The output's longer side is `size`; the painting's is size × scale: in preview pixels,
  // (its longer side) = 160 × scale × (output's longer side / output's width).
  const scale = Number(fields.style_scale.value);
  const k = (160 * scale * Math.max(content.width, content.height) / content.width) / Math.max(style.width, style.height);
  const tile = new OffscreenCanvas(Math.max(1, Math.round(style.width * k)), Math.max(1, Math.round(style.height * k)));
  const tctx = tile.getContext('2d');
  tctx.imageSmoothingQuality = 'high';
  tctx.drawImage(styleCanvas.canvas, 0, 0, tile.width, tile.height);
  ctx.fillStyle = ctx.createPattern(tile, 'repeat');
  ctx.fillRect(0, 0, c.width, c.height);
}
function updateMemory() {
  const { content, style } = state.images;
  if (!state.st || !content || !style) { ui.memory.textContent = ''; return; }
  try {
    const p = state.st.plan(content, paintings(), readSettings());
    const sc = p.scales && p.scales.length > 1 ? ` in ${p.scales.length} scales (${p.scales.map((x) => Math.max(x.width, x.height)).join(' → ')} px)` : '';
    const how = p.tiles > 0 ? `runs in ${p.tiles} tiles of ${p.tileSize} px at the largest scale (the whole image would not fit)` : 'runs on the whole image';
    const budget = p.budgetBytes != null ? ` of the ${fmtBytes(p.budgetBytes)} budget` : '';
    ui.memory.textContent = `${p.width}×${p.height} px output${sc}; ${how}; needs ${fmtBytes(p.peakBytes)} of GPU memory${budget}.`;
    ui.memory.classList.toggle('warn', !p.fits);
    if (!p.fits) ui.memory.textContent = `${p.width}×${p.height} px does not fit this GPU's memory${budget ? ' budget' : ''}, even in tiles: ${p.maxSize > 0 ? `the largest size that fits is about ${p.maxSize} px` : "no size fits; a larger memory budget is needed"}.`;
  } catch (e) {
    ui.memory.textContent = e.message;
    ui.memory.classList.add('warn');
  }
}
// During a run, the loss weights, layer weights and step size steer it live (from the next batch);
// the other settings apply to the next run.
const STEERABLE = ['content_weight', 'style_weight', 'tv_weight', 'style_layer_weights', 'lr', 'style_blend'];
let steerTimer = 0;
function steerLive() {
  const st = state.st;
  if (!st || !['running', 'paused'].includes(st.state)) return;
  const now = readSettings();
  const changes = Object.fromEntries(STEERABLE.filter((k) => JSON.stringify(now[k]) !== JSON.stringify(st.settings[k])).map((k) => [k, now[k]]));
  if (!Object.keys(changes).length) return;
  try {
    st.steer(changes);
    hideError();
  } catch (e) { showError(e); }
}
function steerSoon() {
  if (!['running', 'paused'].includes(state.st?.state)) return;
  clearTimeout(steerTimer); // a dragged slider steers once it rests
  steerTimer = setTimeout(steerLive, 150);
}
ui.form.addEventListener('input', (e) => {
  updateLabels();
  updateButtons();
  const busy = ['running', 'paused'].includes(state.st?.state);
  if (busy && e.target.closest('[data-steer]')) {
    clearTimeout(steerTimer); // a dragged slider steers once it rests
    steerTimer = setTimeout(steerLive, 150);
  } else if (busy) {
    setStatus('Stylizing… (that setting applies to the next run; the weights and the step size change this one)');
  }
});
$('reset').addEventListener('click', () => { state.restored = null; fillSettings(state.defaults); });

// ---------------------------------------------------------------- a result's settings
/** Restores the settings a result PNG (from this page or the CLI) carries, and says what it needs. */
async function restoreFrom(file) {
  hideError();
  let rec;
  try {
    rec = await readRecord(file);
  } catch (e) {
    const hint = e.name === 'Image' ? ' Only a PNG that stylize saved restores settings; drop photos and paintings on their pickers.' : '';
    showError(Object.assign(new Error(`${file.name}: ${e.message}.${hint}`), { name: e.name }));
    return;
  }
  if (!rec) {
    showError(Object.assign(new Error(`${file.name} carries no stylize settings: only PNGs that stylize saved do (drop photos and paintings on their pickers).`), { name: 'Settings' }));
    return;
  }
  state.restored = rec.settings;
  fillSettings({ ...state.defaults, ...rec.settings });
  const same = (kind, r) => state.images[kind]?.sha256 && state.images[kind].sha256 === r.sha256;
  const needs = [['content', 'photo', rec.content], ['style', 'painting', rec.style]]
    .map(([kind, what, r]) => (same(kind, r) ? `the ${what} “${r.name}” (selected)` : `the ${what} “${r.name}” (not selected: choose it)`));
  for (const [k, r] of (rec.more_paintings || []).entries()) {
    const have = state.more[k]?.img?.sha256 === r.sha256;
    needs.push(`painting ${k + 2} “${r.name}” to blend (${have ? 'added' : 'not added: blend it in'})`);
  }
  if (rec.settings.regions?.length) needs.push(`its region mask${rec.mask ? ` “${rec.mask.name}”` : ''} (paint the regions again or load the mask under Regions)`);
  for (const [k, m] of (rec.style_masks || []).entries()) {
    if (m) needs.push(`the style mask “${m.name}” on painting ${k + 1} (paint it again or load it under Regions, painting ${k + 1})`);
  }
  const gpu = state.st && rec.adapter !== state.st.adapterSummary ? ` It was made on ${rec.adapter}; on this GPU the pixels may differ slightly.` : '';
  setStatus(`Settings restored from ${file.name} (stylize ${rec.stylize}, seed ${rec.settings.seed}). To make it again: ${needs.join(' and ')}.${gpu}`);
  updateButtons();
}
$('restore-file').addEventListener('change', (e) => { const f = e.target.files[0]; if (f) restoreFrom(f); e.target.value = ''; });
// A PNG dropped anywhere but on the photo or painting picker restores its settings.
document.addEventListener('dragover', (e) => { if (!e.defaultPrevented) e.preventDefault(); });
document.addEventListener('drop', (e) => {
  if (e.defaultPrevented) return; // a picker took it
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) restoreFrom(f);
});

// ---------------------------------------------------------------- image pickers
async function setImage(kind, source, label) {
  const picker = $(`${kind}-picker`);
  try {
    const img = await decodeImage(source);
    state.images[kind] = img;
    const url = source instanceof Blob ? URL.createObjectURL(source) : source;
    if (state.urls[kind]?.startsWith('blob:')) URL.revokeObjectURL(state.urls[kind]);
    state.urls[kind] = url;
    const thumb = picker.querySelector('.thumb');
    thumb.src = url;
    thumb.alt = `Selected ${kind === 'content' ? 'photo' : 'painting'}: ${label}`;
    picker.classList.add('has-image');
    if (kind === 'content') ui.before.src = url;
    if (kind === 'style') renderBlend();
    if ($('regions-panel').open) drawRegions();
    updateMemory();
    drawStyleScale();
    updateButtons();
  } catch (e) {
    showError(e); // the previous image stays selected
  }
}
for (const kind of ['content', 'style']) {
  const picker = $(`${kind}-picker`);
  const input = picker.querySelector('input[type=file]');
  input.addEventListener('change', () => { if (input.files[0]) setImage(kind, input.files[0], input.files[0].name); input.value = ''; });
  const drop = picker.querySelector('.drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = [...e.dataTransfer.files].find((f) => f.type.startsWith('image/')) || e.dataTransfer.files[0];
    if (f) setImage(kind, f, f.name);
  });
  picker.addEventListener('focusin', () => (state.pasteTarget = kind));
}
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith('image/'));
  if (!item) return;
  e.preventDefault();
  setImage(state.pasteTarget || 'content', item.getAsFile(), 'pasted image');
});

async function loadSamples() {
  const r = await fetch('samples/index.json');
  if (!r.ok) throw new Error('sample index missing');
  const idx = await r.json();
  for (const [kind, list] of [['content', idx.photos], ['style', idx.styles]]) {
    const box = $(`${kind}-picker`).querySelector('.samples');
    for (const name of list) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sample';
      const img = document.createElement('img');
      img.src = `samples/${name}`;
      img.alt = '';
      b.append(img);
      b.title = b.ariaLabel = `Use sample ${name.replace(/\.\w+$/, '').replace(/_/g, ' ')}`;
      b.addEventListener('click', () => setImage(kind, `samples/${name}`, name));
      box.append(b);
    }
  }
  await Promise.all([setImage('content', `samples/${idx.photos[0]}`, idx.photos[0]), setImage('style', `samples/${idx.styles[0]}`, idx.styles[0])]);
}

// ---------------------------------------------------------------- running
function updateButtons() {
  const s = state.st?.state;
  const busy = s === 'starting' || s === 'running' || s === 'paused';
  ui.go.disabled = !state.st || busy || !state.images.content || !state.images.style;
  ui.pause.disabled = s !== 'running';
  ui.resume.disabled = s !== 'paused';
  ui.stop.disabled = !busy;
  ui.download.disabled = !state.result;
  const side = state.result ? Math.max(state.result.width, state.result.height) : Infinity;
  ui.larger.disabled = busy || !state.result || !(Number(fields.size.value) > side);
  ui.larger.textContent = state.result && Number(fields.size.value) > side ? `Continue larger (${side} → ${fields.size.value} px)` : 'Continue larger';
  ui.comparePos.disabled = !state.result;
  ui.form.classList.toggle('busy', busy);
}

function fmtTime(s) {
  if (s == null || !isFinite(s)) return '–';
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

function drawPlot() {
  const c = ui.plot, ctx = c.getContext('2d');
  const h = state.st?.history || [];
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.font = '11px system-ui, sans-serif';
  if (h.length < 1) return;
  const series = [['total', '#222'], ['content', '#1f77b4'], ['style', '#d62728']];
  const s = state.st.settings;
  const val = (l, k) => (k === 'content' ? l.content * (l.content_weight ?? s.content_weight) : k === 'style' ? l.style * (l.style_weight ?? s.style_weight) : l.total);
  const vals = h.flatMap((l) => series.map(([k]) => val(l, k))).filter((v) => v > 0);
  if (!vals.length) return;
  const lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals)) + 1e-9;
  const maxIt = Math.max(1, state.totalIterations ?? s.iterations, h.at(-1).iteration);
  const X = (it) => 40 + (c.width - 50) * (it / maxIt);
  const Y = (v) => c.height - 18 - (c.height - 30) * ((Math.log10(v) - lo) / (hi - lo || 1));
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(40, 12, c.width - 50, c.height - 30);
  ctx.fillStyle = '#555';
  ctx.fillText(`1e${hi.toFixed(1)}`, 2, 18);
  ctx.fillText(`1e${lo.toFixed(1)}`, 2, c.height - 18);
  ctx.fillText(`iteration ${h.at(-1).iteration}`, c.width - 110, c.height - 4);
  // Where each scale after the first begins.
  ctx.strokeStyle = '#bbb';
  ctx.setLineDash([3, 3]);
  for (let i = 1; i < h.length; i++) {
    if (h[i].scale !== h[i - 1].scale) {
      const x = X(h[i].iteration - h[i].scaleIteration);
      ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x, c.height - 18); ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  // Where the run was steered: an orange line labelled with what changed.
  const names = { content_weight: 'α', style_weight: 'β', tv_weight: 'τ', style_layer_weights: 'layers', lr: 'step', style_blend: 'blend' };
  ctx.strokeStyle = ctx.fillStyle = '#e67e00';
  for (const m of state.st.steers || []) {
    const x = X(m.iteration);
    ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x, c.height - 18); ctx.stroke();
    const label = Object.entries(m.changes).map(([k, v]) => (typeof v === 'number' ? `${names[k]} ${Number(v.toPrecision(3))}` : names[k])).join(', ');
    ctx.fillText(label, Math.min(x + 3, c.width - ctx.measureText(label).width - 2), 24);
  }
  series.forEach(([k, color], i) => {
    ctx.strokeStyle = ctx.fillStyle = color;
    ctx.beginPath();
    let first = true;
    for (const l of h) {
      const v = val(l, k);
      if (!(v > 0)) continue;
      first ? ctx.moveTo(X(l.iteration), Y(v)) : ctx.lineTo(X(l.iteration), Y(v));
      first = false;
    }
    ctx.stroke();
    for (const l of h) {
      const v = val(l, k);
      if (v > 0) ctx.fillRect(X(l.iteration) - 1.5, Y(v) - 1.5, 3, 3);
    }
    ctx.fillText(k === 'total' ? 'total' : `${k} × weight`, 50 + i * 110, 10);
  });
}

/** The GPU fallbacks a StyleTransfer took (a kernel its GPU could not compile), under the status. */
function showNotes(st) {
  const note = document.getElementById('gpu-note');
  note.hidden = st.notes.length === 0;
  note.textContent = st.notes.map((n) => `Note: ${n}.`).join(' ');
}

/** mode: 'run' (a new run), 'recover' (after a GPU failure), 'larger' (Continue larger). */
async function runOrResume(mode) {
  const recover = mode === 'recover';
  hideError();
  const st = state.st;
  const settings = readSettings();
  if (!recover) {
    try {
      const p = st.plan(state.images.content, paintings(), settings);
      if (!p.fits) {
        showError(Object.assign(new Error(`${settings.size} px does not fit this GPU's memory, even in tiles.`), { name: 'TooLarge' }),
          p.maxSize > 0 ? { label: `Use ${p.maxSize} px`, run: () => { fields.size.value = p.maxSize; updateLabels(); runOrResume('run'); } } : undefined);
        return;
      }
    } catch (e) { showError(e); return; }
    state.result = null;
  }
  ui.before.hidden = true;
  ui.comparePos.value = 0;
  const started = performance.now();
  const onProgress = (e) => {
    const { iteration, iterations, itPerSec, etaSeconds, scale, scales, width, height, tiles } = e.detail;
    state.totalIterations = iterations;
    ui.progress.max = iterations;
    ui.progress.value = iteration;
    const where = (scales > 1 ? `Scale ${scale + 1} of ${scales} · ${width} × ${height} px · ` : '') + (tiles > 1 ? `${tiles} tiles · ` : '');
    ui.progressText.textContent = `${where}Iteration ${iteration} / ${iterations} · ${itPerSec.toFixed(2)} it/s · ETA ${fmtTime(etaSeconds)}`;
    updateButtons(); // the run has left 'starting'
  };
  const onLosses = () => drawPlot();
  const onSteer = (e) => { drawPlot(); setStatus(`Stylizing… steered at iteration ${e.detail.iteration}.`); };
  st.addEventListener('steer', onSteer);
  const onFallback = () => showNotes(st);
  st.addEventListener('progress', onProgress);
  st.addEventListener('losses', onLosses);
  st.addEventListener('fallback', onFallback);
  setStatus('Stylizing…');
  state.totalIterations = null;
  const p = recover ? st.recover()
    : mode === 'larger' ? st.continueLarger(settings.size, settings)
    : st.run({ content: state.images.content, style: paintings(), settings, canvas: ui.preview,
      mask: settings.regions.length ? regionMaskImage() : null, styleMasks: settings.regions.length ? styleMaskImages() : null });
  updateButtons();
  try {
    const r = await p;
    state.result = r;
    const secs = (performance.now() - started) / 1000;
    setStatus(`${r.stopped ? 'Stopped' : 'Done'} after ${r.iteration} iterations in ${fmtTime(secs)} — ${r.width}×${r.height} px.`);
    ui.before.hidden = false;
  } catch (e) {
    state.result = st.lastGood ? { width: st.lastGood.width, height: st.lastGood.height, iteration: st.lastGood.runIteration } : null;
    if (e.name === 'DeviceLost' || e.name === 'Gpu') {
      setStatus('The GPU stopped working.');
      const label = st.lastGood ? `Resume from iteration ${st.lastGood.runIteration}` : 'Start again on a new GPU device';
      showError(e, st.inputs ? { label, run: () => runOrResume('recover') } : null);
    } else if (e.name === 'NotFinite') {
      setStatus('Stopped: the optimisation diverged.');
      showError(e);
    } else {
      setStatus('Stopped by an error.');
      showError(e);
    }
  } finally {
    st.removeEventListener('progress', onProgress);
    st.removeEventListener('losses', onLosses);
    st.removeEventListener('steer', onSteer);
    st.removeEventListener('fallback', onFallback);
    drawPlot();
    updateButtons();
  }
}

ui.form.addEventListener('submit', (e) => { e.preventDefault(); runOrResume('run'); });
ui.larger.addEventListener('click', () => runOrResume('larger'));
ui.pause.addEventListener('click', () => { state.st.pause(); setStatus('Paused.'); updateButtons(); });
ui.resume.addEventListener('click', () => { state.st.resume(); setStatus('Stylizing…'); updateButtons(); });
ui.stop.addEventListener('click', () => { state.st.stop(); updateButtons(); });
ui.comparePos.addEventListener('input', () => {
  ui.before.style.clipPath = `inset(0 ${100 - Number(ui.comparePos.value)}% 0 0)`;
});
ui.download.addEventListener('click', async () => {
  try {
    const blob = await state.st.pngBlob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'stylized.png';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (e) { showError(e); }
});

// ---------------------------------------------------------------- weights
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
      setStatus(`${cached ? 'Loading cached' : 'Downloading'} model weights… ${(got / 2 ** 20).toFixed(1)}${total ? ` / ${(total / 2 ** 20).toFixed(1)}` : ''} MB`);
    },
  });
  ui.weightsProgress.hidden = true;
  return st;
}
ui.weightsFile.addEventListener('change', async () => {
  const f = ui.weightsFile.files[0];
  if (!f) return;
  ui.weightsFile.value = '';
  const busy = state.st?.busy;
  if (busy) { showError(new Error('Stop the current run before changing the weights.')); return; }
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
  updateMemory();
  updateButtons();
});

// ---------------------------------------------------------------- start-up
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
  state.defaults = null;
  const gpu = await webgpuStatus();
  if (!gpu.ok) {
    setStatus('This browser cannot run stylize.');
    showError(Object.assign(new Error(gpu.message), { name: 'NoWebGPU' }));
    document.body.classList.add('no-webgpu');
    return;
  }
  setStatus('Loading…');
  try {
    await loadWasm();
    state.defaults = StyleTransfer.defaults();
    fillSettings({ ...state.defaults, size: 256 });
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
  updateMemory();
  updateButtons();
}
main();
