// api/inputs.js — what a run is given: one painting or several to blend, the settings that
// follow from that, and the record a result carries of them.

import { namedError, version } from './engine.js';

/** `style` as a list: one painting, or up to four to blend. */
export function paintingList(style) {
  const list = Array.isArray(style) ? style : [style];
  if (list.length < 1 || list.length > 4) throw namedError('Settings', `Blend 1 to 4 paintings, not ${list.length}.`);
  return list;
}

/** Settings for `n` paintings: equal blend weights unless given. */
export function withBlend(settings, n) {
  if (n > 1 && !(settings.style_blend?.length)) return { ...settings, style_blend: Array(n).fill(1 / n) };
  return settings;
}

/**
 * What a run was made from: {stylize, settings, content: {name, sha256}, style, adapter} — the
 * inputs' names and hashes as decodeImage() gave them — or null before a run.
 */
export function runRecord(inputs, settings, adapter) {
  if (!inputs || !settings) return null;
  const input = (img) => ({ name: img.name ?? 'image', sha256: img.sha256 ?? '' });
  const [first, ...more] = paintingList(inputs.style);
  const rec = { stylize: version(), settings, content: input(inputs.content), style: input(first), adapter };
  if (more.length) rec.more_paintings = more.map(input);
  if (inputs.mask) rec.mask = input(inputs.mask);
  if (inputs.styleMasks?.some((m) => m)) rec.style_masks = inputs.styleMasks.map((m) => (m ? input(m) : null));
  return rec;
}
