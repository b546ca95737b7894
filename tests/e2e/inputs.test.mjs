// The image corpus of tests/image_io.rs (written to test-output/corpus/ by `cargo test`) through
// the page's decoder: every valid file decodes to the right size and colours (downscaled to the
// page's 2048 px working size), every invalid one is refused with an 'Image' error — with exactly
// the CLI's message where the engine's shared check refuses it. And bad weights files through
// "Use a local weights file". Headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serve, browser, openPage, OUT, ready } from './harness.mjs';

const CORPUS = path.join(OUT, 'corpus');
let srv, b, page, context;
before(async () => {
  srv = await serve();
  b = await browser();
  ({ page, context } = await openPage(b, `${srv.url}/index.html`));
  await ready(page);
  await page.evaluate(async () => { window.api = await import('./stylize-api.js'); });
});
after(async () => { await context?.close(); await b?.close(); await srv?.close(); });

test('the image corpus: decoded right or refused clearly, like the CLI', async () => {
  assert.ok(fs.existsSync(path.join(CORPUS, 'manifest.json')), 'run `cargo test --test image_io` first (tools/test does)');
  const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS, 'manifest.json'), 'utf8'));
  assert.ok(manifest.length >= 25);
  for (const entry of manifest) {
    const bytes = [...fs.readFileSync(path.join(CORPUS, entry.file))];
    const got = await page.evaluate(async ({ bytes, name }) => {
      try {
        const img = await window.api.decodeImage(new File([new Uint8Array(bytes)], name));
        const px = (x, y) => Array.from(img.data.slice((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
        const { width: w, height: h } = img;
        const at = [[w >> 2, h >> 2], [(3 * w) >> 2, h >> 2], [w >> 2, (3 * h) >> 2], [(3 * w) >> 2, (3 * h) >> 2]];
        return { ok: true, width: w, height: h, probes: at.map(([x, y]) => px(x, y)) };
      } catch (e) {
        return { ok: false, name: e.name, message: e.message };
      }
    }, { bytes, name: entry.file });
    if (entry.ok) {
      assert.ok(got.ok, `${entry.file}: decoded (${got.message})`);
      // The page works at 2048 px at most (the CLI at 8192): same aspect, scaled.
      const scale = Math.min(1, 2048 / Math.max(entry.width, entry.height));
      assert.deepEqual([got.width, got.height], [Math.round(entry.width * scale), Math.round(entry.height * scale)], `${entry.file}: size`);
      entry.probes.forEach((p, i) => {
        const px = got.probes[i];
        const close = p.rgb.every((c, j) => Math.abs(c - px[j]) <= entry.tol + 8) && px[3] === 255;
        assert.ok(close, `${entry.file}: probe ${i} is ${px}, expected ${p.rgb} ± ${entry.tol + 8}, opaque`);
      });
    } else {
      assert.equal(got.ok, false, `${entry.file}: refused`);
      assert.equal(got.name, 'Image', `${entry.file}: an Image error (${got.message})`);
      if (entry.message) assert.equal(got.message, entry.message, `${entry.file}: the CLI's message`);
    }
  }
});

/** A safetensors file: 8-byte little-endian header length, the JSON header, the data. */
function safetensors(header, data) {
  const h = Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.from(data)]);
}

test('hostile weights files are refused through "Use a local weights file", keeping the working weights', async () => {
  const conv11 = (dtype, shape, len) => JSON.stringify({ 'conv1_1.weight': { dtype, shape, data_offsets: [0, len] } });
  const nan = new Uint8Array(6912);
  new DataView(nan.buffer).setFloat32(40, NaN, true);
  const hugeHeader = Buffer.alloc(10);
  hugeHeader.writeBigUInt64LE(1n << 62n);
  const cases = [
    ['dtype.safetensors', safetensors(conv11('I32', [64, 3, 3, 3], 6912), new Uint8Array(6912)), /conv1_1.weight` has dtype I32; only F16 and F32/],
    ['shape.safetensors', safetensors(conv11('F32', [64, 3, 3, 2], 4608), new Uint8Array(4608)), /conv1_1.weight` has shape \[64, 3, 3, 2\], expected \[64, 3, 3, 3\]/],
    ['offsets.safetensors', safetensors(conv11('F32', [64, 3, 3, 3], 6912), new Uint8Array(100)), /not a valid safetensors file/],
    ['header.safetensors', hugeHeader, /not a valid safetensors file/],
    ['nan.safetensors', safetensors(conv11('F32', [64, 3, 3, 3], 6912), nan), /conv1_1.weight` has a non-finite value at index 10/],
    ['empty.safetensors', Buffer.alloc(0), /not a valid safetensors file/],
  ];
  for (const [name, buffer, re] of cases) {
    await page.setInputFiles('#weights-file', { name, mimeType: 'application/octet-stream', buffer });
    await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 60_000 });
    assert.match(await page.textContent('#error-text'), re, name);
    await page.waitForFunction(() => /^Ready \(kept the previous weights\)/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    await page.click('#error-dismiss');
  }
  assert.ok(await page.isEnabled('#go'), 'the app still works with the weights it had');
});
