// blend.js — the blend panel: further paintings (at most four in all), each with its share of the
// style and its own scale; the settings they make (style_blend, style_scales).

import { decodeImage } from '../stylize-api.js';
import { $, state, on, changed, busy, showError, hideError, named } from './store.js';

/** style_blend (normalised shares) and style_scales for the paintings chosen; none for one. */
export function blendSettings(firstScale) {
  if (!state.more.length) return { style_blend: [], style_scales: [] };
  const shares = [state.firstShare, ...state.more.map((m) => m.share)];
  const sum = shares.reduce((a, b) => a + b, 0) || 1;
  return { style_blend: shares.map((v) => Number((v / sum).toFixed(4))), style_scales: [firstScale, ...state.more.map((m) => m.scale)] };
}
/** Every painting of the run: the picker's, then the blended ones. */
export function paintings() {
  return state.more.length ? [state.images.style, ...state.more.map((m) => m.img)] : state.images.style;
}
export function renderBlend() {
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
    sr.addEventListener('input', () => { onShare(Number(sr.value)); updateBlendLabels(); changed('blend'); });
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
      rr.addEventListener('input', () => { onScale(Number(rr.value)); s2.querySelector('output').textContent = `${Number(rr.value).toFixed(2)}×`; changed('scales'); });
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
    if (busy()) { showError(RUNNING()); return; }
    state.more.splice(k, 1);
    if (m.url.startsWith('blob:')) URL.revokeObjectURL(m.url);
    changed('paintings');
  }));
}
const RUNNING = () => named('Busy', 'The paintings of a run cannot change while it runs: stop it first.');
function updateBlendLabels() {
  const pct = blendSettings(1).style_blend;
  document.querySelectorAll('#blend-rows .share-label').forEach((el, i) => { el.textContent = `Painting ${i + 1}: ${Math.round(pct[i] * 100)}%`; });
}
$('add-painting').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (!f) return;
  if (state.more.length >= 3) { showError(named('Settings', 'At most four paintings can be blended.')); return; }
  if (busy()) { showError(RUNNING()); return; }
  try {
    const img = await decodeImage(f);
    state.more.push({ img, url: URL.createObjectURL(f), share: 1, scale: Number($('style-scale').value) });
    hideError();
    changed('paintings');
  } catch (err) { showError(err); }
});
on('paintings', renderBlend);
on('images', renderBlend); // the first painting's thumbnail
