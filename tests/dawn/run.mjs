// The configuration real GPUs get, under Chrome's own WebGPU implementation (Dawn) and shader
// compiler (Tint), without a GPU: Dawn for Node (npm `webgpu`) on Mesa 25's lavapipe, which offers
// `shader-f16`. Two parts, both read from the directory `cargo test` writes with
// STYLIZE_EXPORT_CASES=DIR (tools/test does):
//   1. DIR/pipelines.json — every pipeline variant the engine can use (both preludes, every
//      override set): each module must compile without errors (getCompilationInfo) and each
//      pipeline must validate with its explicit layout (createComputePipelineAsync in an error
//      scope).
//   2. DIR/cases/*.json — the kernel tests' cases (tests/kernels.rs) recorded on lavapipe through
//      wgpu: the same buffers (NaN-filled outputs included), uniforms and dispatches run through
//      Tint's compiled pipelines, and every comparison the Rust test made against its f64 CPU
//      reference repeated with the same tolerances.
// An adapter without shader-f16 fails the run (never a silent skip). Prints "N passed, M failed".
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

const caseDir = path.join(dir, 'cases');
const files = fs.existsSync(caseDir) ? fs.readdirSync(caseDir).filter((f) => f.endsWith('.json')).sort() : [];
if (files.length === 0) fail('cases', `no kernel cases in ${caseDir}`);
let compared = 0;
for (const f of files) {
  const c = JSON.parse(fs.readFileSync(path.join(caseDir, f), 'utf8'));
  try {
    const buffers = c.buffers.map((data) => {
      const bytes = b64(data);
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
    const out = buffers[c.output.buffer];
    const staging = device.createBuffer({ size: out.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(out, 0, staging, 0, out.size);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const raw = staging.getMappedRange().slice(0);
    staging.unmap();
    const values = c.output.precision === 'F16'
      ? Array.from(new Uint16Array(raw, 0, c.output.len), (h) => f16ToF32(h) * c.output.load_scale)
      : Array.from(new Float32Array(raw, 0, c.output.len));
    for (const ch of c.checks) {
      const ref = new Float64Array(new Uint8Array(b64(ch.reference)).buffer);
      let worst = null;
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) {
        const g = values[ch.offset + i];
        const err = Math.abs(g - ref[i]);
        if (!(err <= ch.atol + ch.rtol * Math.abs(ref[i]))) { worst ??= `element ${i}: Tint ${g} vs reference ${ref[i]}`; }
        if (Number.isFinite(err)) maxAbs = Math.max(maxAbs, err);
      }
      compared++;
      if (worst) fail(`${f} ${ch.what}`, `${worst} (atol ${ch.atol}, rtol ${ch.rtol})`);
      else passed++;
      if (process.env.VERBOSE) console.log(`ok ${ch.what}: n=${ref.length} max_abs_err=${maxAbs.toExponential(2)}`);
    }
    for (const b of buffers) b.destroy();
  } catch (e) {
    fail(f, e.message);
  }
}
if (uncaptured.length) fail('device', `uncaptured errors: ${uncaptured.slice(0, 3).join('; ')}`);
console.log(`# ${files.length} kernel cases, ${compared} comparisons with the CPU references under Dawn/Tint (adapter: ${adapter.info?.description || adapter.info?.device || 'lavapipe'})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
