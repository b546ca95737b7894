// settings-form.js — the settings form: filled from and read into the engine's settings, its
// labels, the painting-scale preview, the memory line, live steering of a run (the settings the
// engine names steerable), Reset, and restoring the settings a result PNG carries.

import { StyleTransfer, readRecord } from '../stylize-api.js';
import { $, ui, state, on, changed, steerable, setStatus, showError, hideError, named, fmtBytes, canvasOf } from './store.js';
import { setVideo } from './video.js';
import { blendSettings, paintings } from './blend.js';
import { regionSettings } from './regions.js';

export const fields = {
  size: $('size'), iterations: $('iterations'), content_weight: $('content-weight'), tv_weight: $('tv-weight'),
  init: $('init'), seed: $('seed'), lr: $('lr'), pooling: $('pooling'), optimizer: $('optimizer'), scales: $('scales'),
  colors: $('colors'), style_scale: $('style-scale'),
};

export function fillSettings(s) {
  for (const [k, el] of Object.entries(fields)) el.value = s[k] ?? '';
  $('average').checked = s.average;
  $('strength').value = Math.log10(s.style_weight);
  document.querySelectorAll('.layer-w').forEach((el, i) => (el.value = s.style_layer_weights[i]));
  changed('settings');
}

/** The settings of a run: the engine's defaults, a restored record's, the form's, the panels'. */
export function readSettings() {
  const num = (el) => Number(el.value);
  return {
    ...state.defaults,
    ...state.restored,
    size: num(fields.size), iterations: Math.round(num(fields.iterations)),
    content_weight: num(fields.content_weight), tv_weight: num(fields.tv_weight),
    style_weight: Number((10 ** Number($('strength').value)).toPrecision(3)),
    init: fields.init.value, seed: Math.round(num(fields.seed)), lr: fields.lr.value === '' ? null : num(fields.lr),
    pooling: fields.pooling.value, optimizer: fields.optimizer.value, scales: Number(fields.scales.value),
    average: $('average').checked, colors: fields.colors.value, style_scale: num(fields.style_scale),
    style_layer_weights: Array.from(document.querySelectorAll('.layer-w'), num),
    ...blendSettings(num(fields.style_scale)),
    regions: regionSettings(),
  };
}

function updateLabels() {
  $('strength-out').textContent = `β = ${(10 ** Number($('strength').value)).toPrecision(3)}`;
  $('size-out').textContent = `${fields.size.value} px`;
  $('style-scale-out').textContent = `${Number(fields.style_scale.value).toFixed(2)}×`;
}

/** The painting at the chosen scale, tiled over a frame of the output's shape. */
let styleCanvas = null; // the painting as a canvas, made once per painting
function drawStyleScale() {
  const c = $('style-scale-preview');
  const { content, style } = state.images;
  const ctx = c.getContext('2d');
  if (!content || !style) { ctx.clearRect(0, 0, c.width, c.height); return; }
  if (styleCanvas?.source !== style) styleCanvas = { source: style, canvas: canvasOf(style) };
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

/** The memory line: the output's size, its scales, whole or tiles, and the GPU memory it needs. */
function updateMemory() {
  const { content, style } = state.images;
  if (!state.st || !content || !style) { ui.memory.textContent = ''; return; }
  try {
    const settings = readSettings();
    const p = state.st.plan(content, paintings(), settings);
    const sc = p.scales && p.scales.length > 1 ? ` in ${p.scales.length} scales (${p.scales.map((x) => Math.max(x.width, x.height)).join(' → ')} px)` : '';
    // Scales where L-BFGS's history does not fit the budget run Adam, twice as long (the engine's choice).
    const adam = (p.scales ?? []).filter((x) => x.optimizer !== settings.optimizer).map((x) => Math.max(x.width, x.height));
    const fallback = adam.length ? `; Adam (twice the iterations) at ${adam.join(', ')} px, where L-BFGS would not fit` : '';
    const how = p.tiles > 0 ? `runs in ${p.tiles} tiles of ${p.tileSize} px at the largest scale (the whole image would not fit)` : 'runs on the whole image';
    const budget = p.budgetBytes != null ? ` of the ${fmtBytes(p.budgetBytes)} budget` : '';
    ui.memory.textContent = `${p.width}×${p.height} px output${sc}; ${how}${fallback}; needs ${fmtBytes(p.peakBytes)} of GPU memory${budget}.`;
    ui.memory.classList.toggle('warn', !p.fits);
    if (!p.fits) {
      const fits = p.maxSize > 0 ? `the largest size that fits is about ${p.maxSize} px` : 'no size fits; a larger memory budget is needed';
      ui.memory.textContent = `${p.width}×${p.height} px does not fit this GPU's memory${budget ? ' budget' : ''}, even in tiles: ${fits}.`;
    }
  } catch (e) {
    ui.memory.textContent = e.message;
    ui.memory.classList.add('warn');
  }
}
on('images paintings settings regions scales engine', updateMemory);
on('images settings', drawStyleScale);
on('settings', updateLabels); // whoever changed the form: its fields, a record, the size a TooLarge offers

// During a run, the settings the engine names steerable steer it live (from the next batch); the
// others apply to the next run.
let steerTimer = 0;
function steerLive() {
  const st = state.st;
  if (!steerable()) return;
  const now = readSettings();
  const same = (k) => JSON.stringify(now[k]) === JSON.stringify(st.settings[k]);
  const changes = Object.fromEntries(StyleTransfer.steerable.filter((k) => !same(k)).map((k) => [k, now[k]]));
  if (!Object.keys(changes).length) return;
  try {
    st.steer(changes);
    hideError();
  } catch (e) { showError(e); }
}
function steerSoon() {
  if (!steerable()) return;
  clearTimeout(steerTimer); // a dragged slider steers once it rests
  steerTimer = setTimeout(steerLive, 150);
}
on('blend', steerSoon);
ui.form.addEventListener('input', (e) => {
  changed('settings');
  if (steerable() && e.target.closest('[data-steer]')) steerSoon();
  else if (steerable()) setStatus('Stylizing… (that setting applies to the next run; the weights and the step size change this one)');
});
$('reset').addEventListener('click', () => { state.restored = null; fillSettings(state.defaults); });

/** Restores the settings a result PNG (from this page or the CLI) carries, and says what it needs. */
async function restoreFrom(file) {
  hideError();
  let rec;
  try {
    rec = await readRecord(file);
  } catch (e) {
    const hint = e.name === 'Image' ? ' Only a PNG that stylize saved restores settings; drop photos and paintings on their pickers.' : '';
    showError(named(e.name, `${file.name}: ${e.message}.${hint}`));
    return;
  }
  if (!rec) {
    showError(named('Settings', `${file.name} carries no stylize settings: only PNGs that stylize saved do (drop photos and paintings on their pickers).`));
    return;
  }
  state.restored = rec.settings;
  fillSettings({ ...state.defaults, ...rec.settings });
  setStatus(`Settings restored from ${file.name} (stylize ${rec.stylize}, seed ${rec.settings.seed}). To make it again: ${needs(rec).join(' and ')}.${gpuNote(rec)}`);
}

/** What a record needs to be made again, said against what is selected. */
function needs(rec) {
  const same = (kind, r) => state.images[kind]?.sha256 && state.images[kind].sha256 === r.sha256;
  const out = [['content', 'photo', rec.content], ['style', 'painting', rec.style]]
    .map(([kind, what, r]) => (same(kind, r) ? `the ${what} “${r.name}” (selected)` : `the ${what} “${r.name}” (not selected: choose it)`));
  for (const [k, r] of (rec.more_paintings || []).entries()) {
    const have = state.more[k]?.img?.sha256 === r.sha256;
    out.push(`painting ${k + 2} “${r.name}” to blend (${have ? 'added' : 'not added: blend it in'})`);
  }
  if (rec.settings.regions?.length) out.push(`its region mask${rec.mask ? ` “${rec.mask.name}”` : ''} (paint the regions again or load the mask under Regions)`);
  for (const [k, m] of (rec.style_masks || []).entries()) {
    if (m) out.push(`the style mask “${m.name}” on painting ${k + 1} (paint it again or load it under Regions, painting ${k + 1})`);
  }
  return out;
}

const gpuNote = (rec) => (state.st && rec.adapter !== state.st.adapterSummary ? ` It was made on ${rec.adapter}; on this GPU the pixels may differ slightly.` : '');

$('restore-file').addEventListener('change', (e) => { const f = e.target.files[0]; if (f) restoreFrom(f); e.target.value = ''; });
// A PNG dropped anywhere but on the photo or painting picker restores its settings; a video is
// taken as the video to stylise.
document.addEventListener('dragover', (e) => { if (!e.defaultPrevented) e.preventDefault(); });
document.addEventListener('drop', (e) => {
  if (e.defaultPrevented) return; // a picker took it
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f?.type.startsWith('video/')) setVideo(f);
  else if (f) restoreFrom(f);
});
