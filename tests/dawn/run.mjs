// The configuration real GPUs get, under Chrome's own WebGPU implementation (Dawn) and shader
// compiler (Tint), without a GPU: Dawn for Node (npm `webgpu`) on Mesa 25's lavapipe, which offers
// `shader-f16`. Two parts, both read from the directory `cargo test` writes with
// STYLIZE_EXPORT_CASES=DIR (tools/test does):
//   1. DIR/pipelines.json — every pipeline variant the engine can use (both preludes, every
//      override set): each module must compile without errors (getCompilationInfo) and each
//      pipeline must validate with its explicit layout (createComputePipelineAsync in an error
//      scope).
//   2. DIR/cases/*.json — the kernel tests' cases (tests/kernels/, a module per kernel family) recorded on lavapipe through
//      wgpu: the same buffers (NaN-filled outputs included), uniforms and dispatches run through
//      Tint's compiled pipelines, the same outputs read back (the test's read, any further buffer
//      it read after the dispatches — a gradient beside its loss, the iterate average — as f32,
//      f16 activations or RGBA8 bytes, and the row sums it took of them), and every comparison
//      the Rust test made against its f64 CPU reference repeated with the same tolerances. The
//      Rust side records every comparison (an unrecordable one fails the test while exporting);
//      a case with no comparison fails here.
// An adapter without shader-f16 fails the run (never a silent skip). Prints how many comparisons
// were replayed (by kind of output), then "N passed, M failed".
//
//   node tests/dawn/run.mjs DIR
import fs from 'node:fs';
import path from 'node:path';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const dir = process.argv[2];
if (!dir || !fs.existsSync(path.join(dir, 'pipelines.json'))) {
  console.error(`usage: node tests/dawn/run.mjs DIR (DIR/pipelines.json missing: run cargo test with STYLIZE_EXPORT_CASES=DIR)`);
  process.exit(2);
}

// Keep the GPU object referenced: if it is garbage-collected, Dawn tears the device down under us.
const gpu = create([]);
globalThis.__dawnGpu = gpu;
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('Dawn found no adapter: install Mesa 25 lavapipe (bookworm-backports mesa-vulkan-drivers), see ../shared/TOOLCHAIN.md');
  process.exit(1);
}
if (!adapter.features.has('shader-f16')) {
  console.error('the Dawn adapter lacks shader-f16: the f16 kernels cannot be compiled by Tint here');
  process.exit(1);
}
const device = await adapter.requestDevice({
  requiredFeatures: ['shader-f16'],
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
});
const uncaptured = [];
device.addEventListener('uncapturederror', (e) => uncaptured.push(e.error.message));

let passed = 0;
let failed = 0;
const fail = (what, msg) => {
  failed++;
  console.log(`FAIL ${what}: ${msg}`);
};

const modules = new Map(); // WGSL source → GPUShaderModule
async function module(source) {
  if (!modules.has(source)) {
    const m = device.createShaderModule({ code: source });
    const errors = (await m.getCompilationInfo()).messages.filter((x) => x.type === 'error');
    modules.set(source, { m, errors: errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`) });
  }
  return modules.get(source);
}

const KIND = { Uniform: { type: 'uniform' }, Read: { type: 'read-only-storage' }, Write: { type: 'storage' } };
const pipelines = new Map();
/** The pipeline for (module source, entry, constants, layout), compiled by Tint and validated. */
async function pipeline(source, entry, constants, layout) {
  const key = JSON.stringify([source.length, source.slice(-200), entry, constants, layout]) + source;
  if (pipelines.has(key)) return pipelines.get(key);
  const mod = await module(source);
  if (mod.errors.length) throw new Error(`Tint: ${mod.errors.slice(0, 3).join('; ')}`);
  const bgl = device.createBindGroupLayout({ entries: layout.map((b) => ({ binding: b.slot, visibility: GPUShaderStage.COMPUTE, buffer: KIND[b.kind] })) });
  device.pushErrorScope('validation');
  let p;
  try {
    p = await device.createComputePipelineAsync({ layout: device.createPipelineLayout({ bindGroupLayouts: [bgl] }), compute: { module: mod.m, entryPoint: entry, constants } });
  } catch (e) {
    await device.popErrorScope();
    throw new Error(`pipeline: ${e.message}`);
  }
  const err = await device.popErrorScope();
  if (err) throw new Error(`pipeline: ${err.message}`);
  const r = { p, bgl };
  pipelines.set(key, r);
  return r;
}

// ---- 1. every variant compiles and validates
const spec = JSON.parse(fs.readFileSync(path.join(dir, 'pipelines.json'), 'utf8'));
for (const s of spec.pipelines) {
  try {
    await pipeline(spec.modules[s.module], s.entry, s.constants, s.layout);
    passed++;
  } catch (e) {
    fail(`compile ${s.name}`, e.message);
  }
}
console.log(`# Tint compiled ${passed} of ${spec.pipelines.length} pipeline variants`);

// ---- 2. the kernel cases against their CPU references
const b64 = (s) => Buffer.from(s, 'base64');
function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A recorded buffer's bytes: base64, or a 4-byte pattern repeated ({fill, size}). */
const bufferBytes = (data) => (typeof data === 'string' ? b64(data) : Buffer.alloc(data.size, b64(data.fill)));
const BYTES = { F32: 4, F16: 2, U8: 1 };
/** An output's values (f32, f16 activations unscaled, or bytes) from its buffer's read-back bytes. */
function values(o, raw) {
  if (o.format === 'F32') return new Float32Array(raw, 0, o.len);
  if (o.format === 'F16') return Float32Array.from(new Uint16Array(raw, 0, o.len), (h) => f16ToF32(h) * o.load_scale);
  if (o.format === 'U8') return new Uint8Array(raw, 0, o.len);
  throw new Error(`unknown output format ${o.format}`);
}
/** Column sums in f32, row by row, of `rows_len` values from `offset` in rows of `width` (as the Rust test's row_sums). */
function rowSums(v, o) {
  const sums = new Float32Array(o.width);
  for (let i = 0; i < o.rows_len; i++) sums[i % o.width] = Math.fround(sums[i % o.width] + v[o.offset + i]);
  return sums;
}

const caseDir = path.join(dir, 'cases');
const files = fs.existsSync(caseDir) ? fs.readdirSync(caseDir).filter((f) => f.endsWith('.json')).sort() : [];
if (files.length === 0) fail('cases', `no kernel cases in ${caseDir}`);
let compared = 0;
const kinds = { first: 0, also: 0, rgba: 0, sums: 0 }; // comparisons by the kind of output they check
for (const f of files) {
  const c = JSON.parse(fs.readFileSync(path.join(caseDir, f), 'utf8'));
  try {
    if (!c.checks?.length) throw new Error('no comparisons recorded');
    const buffers = c.buffers.map((data) => {
      const bytes = bufferBytes(data);
      const buf = device.createBuffer({ size: Math.max(4, bytes.length), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buf, 0, bytes);
      return buf;
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of c.dispatches) {
      const { p, bgl } = await pipeline(c.modules[d.module], d.entry, d.constants, d.layout);
      const params = b64(d.params);
      const ub = device.createBuffer({ size: params.length, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(ub, 0, params);
      const entries = d.layout.map((l) => {
        if (l.kind === 'Uniform') return { binding: l.slot, resource: { buffer: ub } };
        // A window of a whole-image buffer binds a range (offset, size in bytes).
        const b = d.bindings.find((x) => x.slot === l.slot);
        return { binding: l.slot, resource: { buffer: buffers[b.buffer], offset: b.offset ?? 0, size: b.size } };
      });
      pass.setPipeline(p);
      pass.setBindGroup(0, device.createBindGroup({ layout: bgl, entries }));
      pass.dispatchWorkgroups(...d.groups);
    }
    pass.end();
    // Every read-back output, copied after the pass as the Rust test read it.
    const staging = c.outputs.map((o) => {
      if (o.buffer === undefined) return null;
      const size = Math.ceil((o.len * BYTES[o.format]) / 4) * 4;
      const st = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(buffers[o.buffer], 0, st, 0, size);
      return st;
    });
    device.queue.submit([enc.finish()]);
    const outputs = [];
    for (const [i, o] of c.outputs.entries()) {
      if (o.buffer !== undefined) {
        await staging[i].mapAsync(GPUMapMode.READ);
        outputs.push(values(o, staging[i].getMappedRange().slice(0)));
        staging[i].destroy();
      } else {
        outputs.push(rowSums(outputs[o.row_sums_of], o));
      }
    }
    for (const ch of c.checks) {
      const ref = ch.reference.fill !== undefined ? new Float64Array(ch.len).fill(ch.reference.fill) : new Float64Array(new Uint8Array(b64(ch.reference)).buffer);
      const v = outputs[ch.output];
      if (ref.length !== ch.len || ch.offset + ch.len > v.length) throw new Error(`${ch.what}: ${ch.len} values from ${ch.offset} of an output of ${v.length}`);
      let worst = null;
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) {
        const g = v[ch.offset + i];
        const err = Math.abs(g - ref[i]);
        if (!(err <= ch.atol + ch.rtol * Math.abs(ref[i]))) { worst ??= `element ${i}: Tint ${g} vs reference ${ref[i]}`; }
        if (Number.isFinite(err)) maxAbs = Math.max(maxAbs, err);
      }
      const o = c.outputs[ch.output];
      kinds[o.buffer === undefined ? 'sums' : o.format === 'U8' ? 'rgba' : ch.output === 0 ? 'first' : 'also']++;
      compared++;
      if (worst) fail(`${f} ${ch.what}`, `${worst} (atol ${ch.atol}, rtol ${ch.rtol})`);
      else {
        passed++;
        if (process.env.VERBOSE) console.log(`ok ${ch.what}: n=${ref.length} max_abs_err=${maxAbs.toExponential(2)}`);
      }
    }
    for (const b of buffers) b.destroy();
  } catch (e) {
    fail(f, e.message);
  }
}
if (uncaptured.length) fail('device', `uncaptured errors: ${uncaptured.slice(0, 3).join('; ')}`);
console.log(`# ${files.length} kernel cases, ${compared} comparisons with the CPU references under Dawn/Tint (adapter: ${adapter.info?.description || adapter.info?.device || 'lavapipe'})`);
console.log(`#   of the values each case read: ${kinds.first}; of further buffers read after its dispatches: ${kinds.also}; of RGBA8 bytes: ${kinds.rgba}; of row sums: ${kinds.sums}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
