// app.js — an app that imports stylize from npm (`npm install ./stylize-*.tgz`) and is bundled by
// esbuild into one file (tests/e2e/package.test.mjs). The package's wasm, worker and weights were
// copied beside the bundle, as the package README says; setBaseUrl says where.
import { StyleTransfer, decodeImage, setBaseUrl, webgpuStatus } from 'stylize';
import 'stylize/element';

setBaseUrl(new URL('./', import.meta.url));

async function main() {
  const status = await webgpuStatus();
  if (!status.ok) throw new Error(status.message);
  // The API …
  const st = await StyleTransfer.create();
  const result = await st.run({ content: await decodeImage('photo.png'), style: await decodeImage('painting.png'),
    settings: { size: 32, iterations: 6, scales: 1 } });
  const png = await st.pngBlob();
  st.close();
  // … and the element, from the same bundle.
  const el = document.createElement('style-transfer');
  for (const [k, v] of Object.entries({ 'content-src': 'photo.png', 'style-src': 'painting.png', size: '32', iterations: '4', scales: '1' })) el.setAttribute(k, v);
  document.body.append(el);
  const done = await el.start();
  return { api: { width: result.width, height: result.height, pngBytes: png.size, pngType: png.type }, element: { width: done.width, height: done.height } };
}

window.__bundle = main().then((r) => ({ ok: true, ...r }), (e) => ({ ok: false, name: e.name, message: e.message }));
