// The default run in the browser, old against new, side by side (issue 22): for each photo ×
// painting pair, a whole run through the JS API (StyleTransfer.run, as the page runs it) in headless
// Chromium on its WebGPU adapter, once per configuration, alternating. Reports the wall time and the
// last sampled losses (the API samples them at a scale's end: Adam's of its last iterate before the
// final step, L-BFGS's of its last step's image, evaluated for its safeguard).
//   node tools/bench-default-web.mjs [size=64] [pairs=6] [configs=adam:200,lbfgs:100]
// Needs dist/ (trunk build) and the provisioned samples (tools/setup).
import { serve, browser, openPage, ready } from '../tests/e2e/harness.mjs';

const [size = '64', npairs = '6', configs = 'adam:200,lbfgs:100'] = process.argv.slice(2);
const PAIRS = [['chelsea.png', 'flow_strokes.png'], ['astronaut.png', 'mosaic.png'], ['coffee.png', 'ihc.png'], ['rocket.jpg', 'flow_strokes.png'], ['chelsea.png', 'mosaic.png'], ['astronaut.png', 'ihc.png']].slice(0, Number(npairs));
const runs = configs.split(',').map((c) => { const [optimizer, iterations] = c.split(':'); return { optimizer, iterations: Number(iterations) }; });

const srv = await serve();
const b = await browser();
try {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  await page.evaluate(async () => { window.api = await import('./stylize-api.js'); });
  console.log(`| pair | size | optimizer | iterations | wall time (s) | last sampled total | time / first config's |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [photo, painting] of PAIRS) {
    let first = null;
    for (const r of runs) {
      const got = await page.evaluate(async ({ photo, painting, size, r }) => {
        const st = window.__stylize.st.sibling();
        const content = await window.api.decodeImage(`samples/${photo}`);
        const style = await window.api.decodeImage(`samples/${painting}`);
        const settings = { size, optimizer: r.optimizer, iterations: r.iterations }; // the rest as the page's defaults
        const t0 = performance.now();
        await st.run({ content, style, settings });
        const secs = (performance.now() - t0) / 1000;
        const last = st.history.at(-1);
        st.dispose();
        return { secs, total: last?.total, iteration: last?.iteration };
      }, { photo, painting, size: Number(size), r });
      first ??= got.secs;
      const name = `${photo.replace(/\..*/, '')}-${painting.replace(/\..*/, '')}`;
      console.log(`| ${name} | ${size} | ${r.optimizer} | ${r.iterations} | ${got.secs.toFixed(1)} | ${got.total?.toExponential(4)} (it ${got.iteration}) | ${(got.secs / first).toFixed(2)} |`);
    }
  }
  await context.close();
} finally {
  await b.close();
  await srv.close();
}
