// bench.js — the browser benchmark: stylize's iteration vs the same Gatys step in TensorFlow.js
// (tfjs-backend-webgpu) in the same page and GPU, plus the 3×3 conv 1×128×128×64→64 case.
// Both sides are timed the same way: one iteration submitted, then waited for (our
// queue.onSubmittedWorkDone; tfjs: reading back the scalar loss), mean over N after a warm-up.
// `?tile=PX&tilemode=exact|fast` runs our side over tiles of that core (issue 10's cost of tiling).
// Results: window.__bench (read by tools/bench-browser).
import { Stylizer } from './stylize.js';
import { fetchWeights, loadWasm } from './stylize-api.js';

const q = new URLSearchParams(location.search);
const sizes = (q.get('sizes') ?? '32,64').split(',').map(Number);
const iterations = Number(q.get('iterations') ?? 3);
const convReps = Number(q.get('convreps') ?? 2);
const peer = q.get('peer') !== '0';
const out = document.getElementById('out');
out.textContent = '';
const log = (s) => { out.textContent += `${s}\n`; };
const results = (window.__bench = { sizes, iterations, ours: {}, tfjs: {}, conv: {}, done: false });
const MEAN = [103.939, 116.779, 123.68];
const S = { alpha: 1, beta: 30, tau: 20, lr: 4, layerW: [1, 0.75, 0.2, 0.2, 0.2] };

function pattern(n, k) {
  const px = new Uint8Array(n * n * 4);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const i = 4 * (y * n + x);
    px[i] = (x * 7 + y * 3 * k) % 256; px[i + 1] = (x * y + k * 40) % 256; px[i + 2] = (y * 5 + x * k) % 256; px[i + 3] = 255;
  }
  return px;
}

// One iteration more than are stepped, so L-BFGS's end-of-scale evaluation is never timed.
async function ours(st, size) {
  const job = await st.start(pattern(size, 1), size, size, pattern(size, 3), size, size, { size, iterations: iterations + 2, scales: 1, optimizer: q.get('optimizer') ?? 'adam', tile_size: Number(q.get('tile') ?? 0), tile_mode: q.get('tilemode') ?? 'exact' }, null);
  await job.done();
  job.step(1, false);
  await job.done();
  const t = performance.now();
  for (let i = 0; i < iterations; i++) { job.step(1, false); await job.done(); }
  const ms = (performance.now() - t) / iterations;
  const profile = await job.profile();
  return { msPerIteration: ms, profile };
}

// ---------------------------------------------------------------- the tfjs peer
function f16ToF32(h) {
  const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
function parseSafetensors(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const t = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = info.data_offsets;
    const raw = bytes.slice(base + a, base + b);
    let data;
    if (info.dtype === 'F32') data = new Float32Array(raw.buffer);
    else { const h = new Uint16Array(raw.buffer); data = Float32Array.from(h, f16ToF32); }
    t[name] = { shape: info.shape, data };
  }
  return t;
}

function tfjsStep(weights) {
  const blocks = [2, 2, 4, 4, 1];
  const convs = [];
  blocks.forEach((n, b) => { for (let j = 1; j <= n; j++) convs.push(`conv${b + 1}_${j}`); });
  const W = convs.map((c) => tf.tidy(() => tf.tensor4d(weights[`${c}.weight`].data, weights[`${c}.weight`].shape).transpose([2, 3, 1, 0])));
  const B = convs.map((c) => tf.tensor1d(weights[`${c}.bias`].data));
  const features = (x) => {
    const f = {};
    let a = x, k = 0;
    blocks.forEach((n, b) => {
      if (b > 0) a = tf.maxPool(a, 2, 2, 'valid');
      for (let j = 1; j <= n; j++, k++) { a = tf.relu(tf.add(tf.conv2d(a, W[k], 1, 'same'), B[k])); f[`relu${b + 1}_${j}`] = a; }
    });
    return f;
  };
  const gram = (F) => { const [, h, w, c] = F.shape; const M = F.reshape([h * w, c]); return tf.matMul(M, M, true, false).div(c * h * w); };
  const STYLE = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
  return { features, gram, STYLE, dispose: () => [...W, ...B].forEach((t) => t.dispose()) };
}

function toInput(px, n) {
  return tf.tidy(() => {
    const rgb = tf.tensor3d(px, [n, n, 4], 'int32').slice([0, 0, 0], [n, n, 3]).toFloat();
    return tf.reverse(rgb, 2).sub(tf.tensor1d(MEAN)).expandDims(0); // BGR − mean, [1,n,n,3]
  });
}

async function tfjsIteration(net, size) {
  const { features, gram, STYLE } = net;
  const content = toInput(pattern(size, 1), size), style = toInput(pattern(size, 3), size);
  const P = tf.tidy(() => features(content).relu4_2);
  const A = tf.tidy(() => { const f = features(style); return STYLE.map((l) => gram(f[l])); });
  const hw3 = 3 * size * size;
  const loss = (x) => {
    const f = features(x);
    const c = tf.mean(tf.squaredDifference(f.relu4_2, P));
    let s = tf.scalar(0);
    STYLE.forEach((l, i) => { s = s.add(tf.mean(tf.squaredDifference(gram(f[l]), A[i])).mul(S.layerW[i])); });
    const dy = x.slice([0, 1, 0, 0], [1, size - 1, size, 3]).sub(x.slice([0, 0, 0, 0], [1, size - 1, size, 3]));
    const dx = x.slice([0, 0, 1, 0], [1, size, size - 1, 3]).sub(x.slice([0, 0, 0, 0], [1, size, size - 1, 3]));
    const tv = dy.square().sum().add(dx.square().sum()).div(hw3);
    return c.mul(S.alpha).add(s.mul(S.beta)).add(tv.mul(S.tau));
  };
  const vg = tf.valueAndGrad(loss);
  let x = content.clone(), m = tf.zerosLike(x), v = tf.zerosLike(x);
  const lo = tf.tensor1d(MEAN.map((v) => -v)), hi = tf.tensor1d(MEAN.map((v) => 255 - v));
  let t = 0;
  const step = async () => {
    t += 1;
    const [nx, nm, nv, value] = tf.tidy(() => {
      const { value, grad } = vg(x);
      const m2 = m.mul(0.9).add(grad.mul(0.1)), v2 = v.mul(0.999).add(grad.square().mul(0.001));
      const upd = m2.div(1 - 0.9 ** t).div(v2.div(1 - 0.999 ** t).sqrt().add(1e-8)).mul(S.lr);
      return [tf.minimum(tf.maximum(x.sub(upd), lo), hi), m2, v2, value];
    });
    x.dispose(); m.dispose(); v.dispose();
    x = nx; m = nm; v = nv;
    const l = (await value.data())[0];
    value.dispose();
    return l;
  };
  await step();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await step();
  const ms = (performance.now() - t0) / iterations;
  [x, m, v, lo, hi, content, style, P, ...A].forEach((tt) => tt.dispose());
  return { msPerIteration: ms };
}

async function tfjsConv(reps) {
  const x = tf.randomUniform([1, 128, 128, 64]), w = tf.randomUniform([3, 3, 64, 64]), dy = tf.randomUniform([1, 128, 128, 64]);
  const time = async (f) => {
    const y0 = f(); await y0.data(); y0.dispose();
    const t = performance.now();
    for (let i = 0; i < reps; i++) { const y = f(); await y.data(); y.dispose(); }
    return (performance.now() - t) / reps;
  };
  const fwd = await time(() => tf.conv2d(x, w, 1, 'same'));
  const bwd = await time(() => tf.conv2dTranspose(dy, w, [1, 128, 128, 64], 1, 'same'));
  [x, w, dy].forEach((t) => t.dispose());
  return { forward: fwd, inputGradient: bwd };
}

// ---------------------------------------------------------------- run
try {
  await loadWasm();
  const bytes = await fetchWeights();
  const st = await Stylizer.create(bytes, q.get('conv') ?? undefined, q.get('precision') ?? undefined);
  log(st.adapter().split('\n')[0]);
  for (const size of sizes) {
    results.ours[size] = await ours(st, size);
    log(`stylize ${size}×${size}: ${results.ours[size].msPerIteration.toFixed(1)} ms/iteration`);
  }
  const convFlops = 2 * 9 * 64 * 64 * 128 * 128;
  results.conv.ours = { forward: await st.benchConv(128, 128, 64, 64, false, convReps), inputGradient: await st.benchConv(128, 128, 64, 64, true, convReps) };
  log(`stylize conv 128×128 64→64: forward ${results.conv.ours.forward?.toFixed(1)} ms, input gradient ${results.conv.ours.inputGradient?.toFixed(1)} ms (GPU timestamps)`);
  if (peer) {
    await tf.setBackend('webgpu');
    await tf.ready();
    const net = tfjsStep(parseSafetensors(bytes));
    for (const size of sizes) {
      results.tfjs[size] = await tfjsIteration(net, size);
      log(`tfjs-webgpu ${size}×${size}: ${results.tfjs[size].msPerIteration.toFixed(1)} ms/iteration (ratio ${(results.tfjs[size].msPerIteration / results.ours[size].msPerIteration).toFixed(2)}×)`);
    }
    net.dispose();
    results.conv.tfjs = await tfjsConv(convReps);
    log(`tfjs conv 128×128 64→64: forward ${results.conv.tfjs.forward.toFixed(1)} ms, input gradient ${results.conv.tfjs.inputGradient.toFixed(1)} ms (wall, with readback)`);
  }
  results.convFlops = convFlops;
} catch (e) {
  results.error = `${e.name}: ${e.message}`;
  log(results.error);
}
results.done = true;
