// embed.js — a page on its own origin that uses the stylize package served from a second origin
// (?pkg=) with the weights from a third (?weights=): what an embedding site writes. Everything it
// sees is collected in window.__embed for tests/e2e/package.test.mjs.
const q = new URLSearchParams(location.search);
const pkg = q.get('pkg');
const weightsUrl = q.get('weights');
const out = (window.__embed = { violations: window.__violations, events: [], weights: [] });

/** The element from the CDN-style URL: a 32 px run, then its PNG downloaded through a link. */
export async function runElement({ size = 32, iterations = 8 } = {}) {
  await import(`${pkg}/style-transfer.js`);
  const el = document.createElement('style-transfer');
  el.setAttribute('weights-src', weightsUrl);
  el.setAttribute('content-src', 'photo.png');
  el.setAttribute('style-src', 'painting.png');
  el.setAttribute('size', String(size));
  el.setAttribute('iterations', String(iterations));
  el.setAttribute('scales', '1');
  const done = new Promise((resolve, reject) => {
    el.addEventListener('done', (e) => resolve(e.detail));
    el.addEventListener('error', (e) => reject(e.detail));
  });
  el.addEventListener('progress', (e) => out.events.push(e.detail.iteration));
  el.setAttribute('autostart', '');
  document.body.append(el);
  const result = await done;
  const png = await el.pngBlob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(png);
  a.download = 'embedded.png';
  document.body.append(a);
  a.click();
  return { width: result.width, height: result.height, iteration: result.iteration, pngBytes: png.size };
}

/** StyleTransfer.create with a weightsUrl: how it fails or whether it took the weights from the cache. */
export async function create(url) {
  const { StyleTransfer } = await import(`${pkg}/stylize-api.js`);
  let fromCache = null;
  try {
    const st = await StyleTransfer.create({ weightsUrl: url, onWeightsProgress: (got, total, cached) => { fromCache = cached; } });
    st.close();
    return { ok: true, fromCache };
  } catch (e) {
    return { ok: false, name: e.name, message: e.message, url: e.url ?? null, status: e.status ?? null };
  }
}

window.__embedApi = { runElement, create };
