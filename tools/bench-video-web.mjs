// The video benchmark in the browser (issue 24): a panning clip (a window moving 2 px right and 1
// px down per frame over chelsea.png, as `panning_clip` in tests/cli.rs) stylised with
// flow_strokes.png through the JS API (StyleTransfer.run({video}), as the page runs it) in
// headless Chromium on its WebGPU adapter. Prints seconds per frame, the time of each later
// frame's start (the flow both ways, the check, the warp and its readback, and the frame's targets),
// and the temporal errors.
//   node tools/bench-video-web.mjs [size=64] [frames=4] [iterations=60] [frameIterations=60]
// Needs dist/ (trunk build) and the provisioned samples (tools/setup).
import { serve, browser, openPage, ready } from '../tests/e2e/harness.mjs';

const [size = '64', frames = '4', iterations = '60', frameIterations = '60'] = process.argv.slice(2).map(Number);
const srv = await serve();
const b = await browser();
try {
  const { page, context } = await openPage(b, `${srv.url}/index.html`);
  await ready(page);
  const got = await page.evaluate(async ({ size, frames, iterations, frameIterations }) => {
    const api = await import('./stylize-api.js');
    const st = window.__stylize.st;
    const photo = await api.decodeImage('samples/chelsea.png');
    const style = await api.decodeImage('samples/flow_strokes.png');
    // The scene at 3×2 the frame size, then windows of it.
    const scene = new OffscreenCanvas(3 * size, 2 * size);
    const sctx = scene.getContext('2d');
    sctx.imageSmoothingQuality = 'high';
    const src = new OffscreenCanvas(photo.width, photo.height);
    src.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(photo.data), photo.width, photo.height), 0, 0);
    sctx.drawImage(src, 0, 0, 3 * size, 2 * size);
    const clip = [];
    for (let k = 0; k < frames; k++) clip.push({ data: new Uint8Array(sctx.getImageData(10 + 2 * k, 6 + k, size, size).data.buffer), width: size, height: size });
    // The time each frame's job takes to start (for later frames: flow, warp, readback, targets).
    const starts = [];
    const video = st.stylizer.video.bind(st.stylizer);
    st.stylizer.video = (...a) => {
      const v = video(...a);
      const start = v.start.bind(v);
      v.start = async (...b) => { const t = performance.now(); const job = await start(...b); starts.push((performance.now() - t) / 1000); return job; };
      return v;
    };
    const per = [];
    st.addEventListener('frame', (e) => per.push(e.detail));
    const t0 = performance.now();
    await st.run({ video: clip, style, settings: { size, iterations }, frameIterations });
    st.stylizer.video = video;
    return { total: (performance.now() - t0) / 1000, starts, per: per.map((f) => ({ seconds: f.seconds, temporalError: f.temporalError, reliable: f.reliable })), adapter: st.adapterSummary };
  }, { size, frames, iterations, frameIterations });
  console.log(`${got.adapter}\n${frames} frames, ${size} px, ${iterations} iterations on frame 1, ${frameIterations} on each later frame: ${got.total.toFixed(1)} s`);
  console.log('| frame | seconds | start (s) | temporal error | reliable |');
  console.log('|---|---|---|---|---|');
  got.per.forEach((f, k) => console.log(`| ${k + 1} | ${f.seconds.toFixed(2)} | ${got.starts[k]?.toFixed(2)} | ${f.temporalError?.toFixed(2) ?? '–'} | ${f.reliable != null ? `${(100 * f.reliable).toFixed(0)}%` : '–'} |`));
  const later = got.per.slice(1);
  if (later.length) {
    const mean = later.reduce((a, f) => a + f.seconds, 0) / later.length;
    const start = got.starts.slice(1).reduce((a, s) => a + s, 0) / later.length;
    console.log(`later frames: ${mean.toFixed(2)} s each, of which the start (flow + targets) ${start.toFixed(2)} s (${((100 * start) / mean).toFixed(0)}%)`);
  }
  await context.close();
} finally {
  await b.close();
  await srv.close();
}
