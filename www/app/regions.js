// regions.js — the Regions panel: a brush and masks. One mask per surface — the photo ('photo')
// and each painting (0, 1, …) — a canvas at the image's shape (longer side 512): transparent where
// unpainted, else one of four flat colours. The photo's colours are the regions, each given a
// painting or the photo; a painting's mask (a style mask) says which part of that painting each
// region takes (its unpainted part: the photo's rest).

import { decodeImage } from '../stylize-api.js';
import { $, state, on, changed, showError, hideError, canvasOf } from './store.js';

export const REGION_COLORS = [[230, 25, 75], [0, 110, 230], [50, 200, 40], [255, 225, 25]];
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
    entry = { source: img, mask, picture: canvasOf(img) };
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
/** The region whose colour the pixel at byte `i` of `d` (RGBA) has, or −1. */
const regionOf = (d, i) => REGION_COLORS.findIndex((c) => Math.abs(c[0] - d[i]) + Math.abs(c[1] - d[i + 1]) + Math.abs(c[2] - d[i + 2]) < 60);
/** Which region colours a mask uses (a scan of its pixels). */
function usedRegions(mask = regions.masks.get('photo')?.mask) {
  if (!mask) return [];
  const d = mask.getContext('2d').getImageData(0, 0, mask.width, mask.height).data;
  const used = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    const k = regionOf(d, i);
    if (k >= 0) used.add(k);
  }
  return [...used].sort();
}
/** settings.regions for the colours painted on the photo (none when nothing is painted). */
export function regionSettings() {
  if (regions.masks.get('photo')?.source !== state.images.content) return [];
  const npaint = 1 + state.more.length;
  return usedRegions().map((k) => ({ color: REGION_COLORS[k], painting: regions.takes[k] == null ? null : Math.min(regions.takes[k], npaint - 1) }));
}
/** The mask image of surface `on` for the engine: painted colours on black (black is no region). */
export function regionMaskImage(on = 'photo') {
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
export function styleMaskImages() {
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
    sel.addEventListener('change', () => { regions.takes[k] = sel.value === 'photo' ? null : Number(sel.value); changed('regions'); });
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
for (const type of ['pointerup', 'pointercancel']) $('region-canvas').addEventListener(type, () => { regions.drawing = false; changed('regions'); });
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
  changed('regions');
});
$('region-clear').addEventListener('click', () => {
  if (!regions.mask) return;
  const ctx = regions.mask.getContext('2d');
  pushUndo();
  ctx.clearRect(0, 0, regions.mask.width, regions.mask.height);
  drawRegions();
  changed('regions');
});
$('region-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f || !regions.mask) return;
  try {
    const img = await decodeImage(f);
    const src = canvasOf(img);
    const ctx = regions.mask.getContext('2d');
    pushUndo();
    ctx.clearRect(0, 0, regions.mask.width, regions.mask.height);
    ctx.imageSmoothingEnabled = false; // flat colours stay flat
    ctx.drawImage(src, 0, 0, regions.mask.width, regions.mask.height);
    // Pixels of no region colour become unpainted.
    const d = ctx.getImageData(0, 0, regions.mask.width, regions.mask.height);
    for (let i = 0; i < d.data.length; i += 4) {
      if (regionOf(d.data, i) < 0) d.data[i + 3] = 0;
    }
    ctx.putImageData(d, 0, 0);
    hideError();
    drawRegions();
    changed('regions');
  } catch (err) { showError(err); }
});
$('regions-panel').addEventListener('toggle', () => { drawRegions(); renderRegionAssign(); });
selectTool(0);
// A new photo or painting: its mask is made afresh; the paintings listed change the choices.
on('images', () => { if ($('regions-panel').open) drawRegions(); });
on('paintings', renderRegionAssign);
