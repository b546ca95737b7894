// Puts images side by side with captions in one PNG (headless Chromium; for benchmark notes).
//   node tools/side-by-side.mjs OUT.png IMAGE=CAPTION [IMAGE=CAPTION ...]
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const [out, ...items] = process.argv.slice(2);
if (!out || !items.length) { console.error('usage: node tools/side-by-side.mjs OUT.png IMAGE=CAPTION ...'); process.exit(2); }
const figures = items.map((it) => {
  const [file, caption = file] = it.split('=');
  const src = `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`;
  return `<figure style="margin:0"><img src="${src}" style="width:384px;image-rendering:pixelated"><figcaption>${caption}</figcaption></figure>`;
});
const b = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true });
const page = await b.newPage({ viewport: { width: 400 * items.length, height: 300 } });
await page.setContent(`<body style="margin:8px;font:14px sans-serif;display:flex;gap:8px">${figures.join('')}</body>`);
await page.screenshot({ path: out, fullPage: true });
await b.close();
