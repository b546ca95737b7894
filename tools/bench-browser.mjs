// Drives dist/bench.html in headless Chromium (software or real WebGPU) and prints the table.
import { serve, browser } from '../tests/e2e/harness.mjs';

const [sizes, iterations, convreps, conv = 'auto', precision = 'auto', optimizer = 'adam', tile = '0', tilemode = 'exact', peer = '1'] = process.argv.slice(2);
const srv = await serve();
const b = await browser();
try {
  const page = await b.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${srv.url}/bench.html?sizes=${sizes}&iterations=${iterations}&convreps=${convreps}${conv === 'auto' ? '' : `&conv=${conv}`}${precision === 'auto' ? '' : `&precision=${precision}`}&optimizer=${optimizer}&tile=${tile}&tilemode=${tilemode}${peer === '0' ? '&peer=0' : ''}`);
  await page.waitForFunction(() => window.__bench?.done, null, { timeout: 3_600_000 });
  const r = await page.evaluate(() => window.__bench);
  console.log((await page.textContent('#out')).trim());
  if (r.error) process.exitCode = 1;
  console.log('\n| size | stylize ms/iteration | tfjs-webgpu ms/iteration | tfjs / stylize |');
  console.log('|---|---|---|---|');
  for (const s of r.sizes) {
    const o = r.ours[s]?.msPerIteration, t = r.tfjs[s]?.msPerIteration;
    console.log(`| ${s}×${s} | ${o?.toFixed(1)} | ${t?.toFixed(1) ?? '–'} | ${t ? (t / o).toFixed(2) + '×' : '–'} |`);
  }
  const c = r.conv;
  if (c.ours) {
    const g = (ms) => (ms ? (r.convFlops / ms / 1e6).toFixed(2) : '–');
    console.log('\n| conv 3×3 1×128×128×64→64 | stylize ms (GFLOP/s) | tfjs ms (GFLOP/s) | tfjs / stylize |');
    console.log('|---|---|---|---|');
    for (const k of ['forward', 'inputGradient']) {
      const o = c.ours[k], t = c.tfjs?.[k];
      console.log(`| ${k} | ${o?.toFixed(1)} (${g(o)}) | ${t?.toFixed(1) ?? '–'} (${g(t)}) | ${t && o ? (t / o).toFixed(2) + '×' : '–'} |`);
    }
  }
  for (const s of r.sizes) {
    const p = r.ours[s]?.profile;
    if (!p) continue;
    console.log(`\nstylize ${s}×${s} per layer (GPU timestamps): ${p.dispatches} dispatches, ${(p.flops / 1e9).toFixed(2)} GFLOP, peak GPU memory ${(p.peakBytes / 2 ** 20).toFixed(1)} MiB`);
    for (const l of p.layers) console.log(`  ${l.label.padEnd(20)} ${l.ms.toFixed(2).padStart(9)} ms ${(l.flops / l.ms / 1e6).toFixed(2).padStart(8)} GFLOP/s`);
  }
} finally {
  await b.close();
  await srv.close();
}
