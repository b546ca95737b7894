// pickers.js — the photo and painting pickers: a file, a drop, a paste, or a sample; the samples
// listed from samples/index.json.

import { decodeImage } from '../stylize-api.js';
import { $, ui, state, changed, showError } from './store.js';
import { clearVideo, setVideo } from './video.js';

const isVideo = (f) => f instanceof File && f.type.startsWith('video/');

/** Selects `source` (a Blob or a URL) as the photo (`kind` 'content') or the first painting ('style'). */
export async function setImage(kind, source, label) {
  if (kind === 'content' && isVideo(source)) return setVideo(source);
  const picker = $(`${kind}-picker`);
  const pick = kind === 'content' ? ++state.contentPick : null;
  try {
    const img = await decodeImage(source);
    if (pick != null && pick !== state.contentPick) return; // a later choice came first
    if (kind === 'content' && state.video) clearVideo();
    state.images[kind] = img;
    const url = source instanceof Blob ? URL.createObjectURL(source) : source;
    if (state.urls[kind]?.startsWith('blob:')) URL.revokeObjectURL(state.urls[kind]);
    state.urls[kind] = url;
    const thumb = picker.querySelector('.thumb');
    thumb.src = url;
    thumb.alt = `Selected ${kind === 'content' ? 'photo' : 'painting'}: ${label}`;
    picker.classList.add('has-image');
    if (kind === 'content') ui.before.src = url;
    changed('images');
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
    const f = [...e.dataTransfer.files].find((f) => f.type.startsWith('image/') || (kind === 'content' && isVideo(f))) || e.dataTransfer.files[0];
    if (f) setImage(kind, f, f.name);
  });
  picker.addEventListener('focusin', () => (state.pasteTarget = kind));
}

document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith('image/'));
  if (!item) return;
  e.preventDefault();
  setImage(state.pasteTarget, item.getAsFile(), 'pasted image');
});

/** Lists the sample photos and paintings under their pickers and selects the first of each. */
export async function loadSamples() {
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
