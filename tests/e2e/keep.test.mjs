// "The photo (no style)" in the page keeps the photo: the left ~45% of the photo painted with the
// mouse and given the photo, the rest styled, a run with the default settings (L-BFGS) at 48 px; the
// painted pixels away from a border a few pixels wide are the photo's within 2 levels (against the
// same page's iteration-0 output: the photo as the engine resizes it), the rest is repainted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serve, browser, openPage, setValue, requireSamples, ready, untilDone, download, recordCanvases, OUT } from './harness.mjs';

let srv, b;
before(async () => {
  requireSamples('chelsea.png', 'flow_strokes.png');
  srv = await serve();
  b = await browser();
});
after(async () => { await b?.close(); await srv?.close(); });

/** The RGBA pixels of a PNG file, decoded in the page. */
const pixels = (page, file) => page.evaluate(async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d');
  g.drawImage(bmp, 0, 0);
  return { width: bmp.width, height: bmp.height, data: [...g.getImageData(0, 0, bmp.width, bmp.height).data] };
}, fs.readFileSync(file).toString('base64'));

/** Whether each pixel of a w×h output is painted in `color` on the photo's mask canvas (nearest
 * neighbour, as the engine resizes the mask). */
const keptAt = (page, w, h, color) => page.evaluate(({ w, h, color }) => {
  const photo = window.__stylize.images.content, k = 512 / Math.max(photo.width, photo.height);
  const mask = window.__canvases.find((c) => !c.isConnected && c.width === Math.round(photo.width * k) && c.height === Math.round(photo.height * k));
  const d = mask.getContext('2d').getImageData(0, 0, mask.width, mask.height).data;
  const out = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (Math.floor((y + 0.5) * mask.height / h) * mask.width + Math.floor((x + 0.5) * mask.width / w));
      out.push(d[i + 3] >= 128 && Math.abs(d[i] - color[0]) + Math.abs(d[i + 1] - color[1]) + Math.abs(d[i + 2] - color[2]) < 60);
    }
  }
  return out;
}, { w, h, color });

test('a region painted with the mouse and given the photo keeps the photo with the default settings', async () => {
  const { page, log, context } = await openPage(b, `${srv.url}/index.html`, { init: recordCanvases });
  try {
    await ready(page);
    await setValue(page, '#size', 48);
    await page.click('#regions-panel summary');
    // The panel makes the photo's mask in its `toggle` event, a task queued after the click.
    await page.waitForFunction(() => {
      const photo = window.__stylize.images.content, k = 512 / Math.max(photo.width, photo.height);
      return window.__canvases.some((c) => !c.isConnected && c.width === Math.round(photo.width * k) && c.height === Math.round(photo.height * k));
    }, null, { timeout: 10_000 });
    await setValue(page, '#region-brush', 60);
    await page.click('.swatch[data-region="0"]');
    const canvas = page.locator('#region-canvas');
    const box = await canvas.boundingBox();
    // Vertical strokes close together cover the left 45% of the photo.
    for (let x = 0.01; x < 0.45; x += 0.03) {
      await page.mouse.move(box.x + box.width * x, box.y - 5);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * x, box.y + box.height + 5, { steps: 10 });
      await page.mouse.up();
    }
    await page.selectOption('#region-assign select[data-region="0"]', 'photo');
    // The photo as the engine resizes it: the same page's output after 0 iterations (it starts from the photo).
    await setValue(page, '#iterations', 0);
    await page.click('#go');
    await untilDone(page);
    const photo = await pixels(page, await download(page, 'keep-photo.png'));
    await setValue(page, '#iterations', 20);
    await page.click('#go');
    await untilDone(page);
    const file = await download(page, 'keep-styled.png');
    const out = await pixels(page, file);
    assert.deepEqual([out.width, out.height], [photo.width, photo.height]);
    const { width: w, height: h } = out;
    const kept = await keptAt(page, w, h, [230, 25, 75]);
    // Away from the border: kept pixels whose 9×9 neighbourhood is all kept (the ramp is 2 px each
    // side at this size), styled pixels whose neighbourhood has no kept pixel.
    const all = (x, y, want) => {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const xx = Math.min(w - 1, Math.max(0, x + dx)), yy = Math.min(h - 1, Math.max(0, y + dy));
          if (kept[yy * w + xx] !== want) return false;
        }
      }
      return true;
    };
    let keptMax = 0, keptN = 0, styledSum = 0, styledN = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = 4 * (y * w + x);
        const diff = Math.max(...[0, 1, 2].map((c) => Math.abs(out.data[i + c] - photo.data[i + c])));
        if (all(x, y, true)) { keptMax = Math.max(keptMax, diff); keptN++; }
        if (all(x, y, false)) { styledSum += [0, 1, 2].reduce((a, c) => a + Math.abs(out.data[i + c] - photo.data[i + c]), 0) / 3; styledN++; }
      }
    }
    console.log(`# keep in the page (${w}×${h}, 20 iterations of the default optimiser): ${keptN} kept pixels away from the border at most ${keptMax} levels from the photo; ${styledN} styled pixels ${(styledSum / styledN).toFixed(1)} levels on average`);
    assert.ok(keptN >= 0.2 * w * h, `the painted region covers a good part of the photo: ${keptN} of ${w * h} pixels`);
    assert.ok(keptMax <= 2, `the region given the photo keeps it: ${keptMax} levels off`);
    assert.ok(styledSum / styledN > 5, `the rest is repainted: ${(styledSum / styledN).toFixed(1)} levels`);
    await page.screenshot({ path: path.join(OUT, 'e2e-keep.png'), fullPage: true });
    assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
  } finally {
    await context.close();
  }
});
