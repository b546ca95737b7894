// The npm package as an embedder uses it (issue 23): tools/pack makes the tarball from dist/;
//   - its contents are what its README lists;
//   - a page on one origin, with a strict CSP (what the README says), imports the package served
//     with CORS from a second origin and the weights from a third, runs a 32 px stylisation and
//     downloads the PNG, with no CSP violation; a 404 and a tampered weights URL fail naming the
//     URL; a second visit makes no weights request;
//   - `tsc --noEmit --strict` type-checks tests/package/typed-example.ts against the packed .d.ts
//     (and fails once a method is renamed in them);
//   - an app bundled by esbuild from `npm install ./stylize-*.tgz` runs.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { DIST, OUT, ROOT, browser, openPage, pngSize, requireSamples, serve } from './harness.mjs';

const PHOTO = 'chelsea.png';
const PAINTING = 'flow_strokes.png';
const CORS = { 'access-control-allow-origin': '*' };
const WEIGHTS = 'weights/vgg19-conv-f16.safetensors';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stylize-package-'));
let tgz;
let b;

before(async () => {
  requireSamples(PHOTO, PAINTING);
  const line = execFileSync(path.join(ROOT, 'tools/pack'), { encoding: 'utf8' }).trim();
  console.log(`tools/pack: ${line}`);
  tgz = path.join(ROOT, line.split(':')[0]);
  execFileSync('tar', ['-xzf', tgz, '-C', scratch]); // → scratch/package
  b = await browser();
});
after(async () => {
  await b?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test('the tarball holds exactly the files its README lists, no tests, and its size is reported', () => {
  const listed = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  const readme = fs.readFileSync(path.join(scratch, 'package/README.md'), 'utf8');
  const block = /## Contents[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the package README has a Contents list');
  assert.deepEqual(listed, block.trim().split('\n').map((l) => l.trim()).sort());
  assert.ok(!listed.some((f) => /test|\.ts$/.test(f) && !f.endsWith('.d.ts')), 'no test files');
  const pkg = JSON.parse(fs.readFileSync(path.join(scratch, 'package/package.json'), 'utf8'));
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  assert.equal(pkg.version, /^version\s*=\s*"([^"]+)"/m.exec(cargo)[1], 'the version is Cargo.toml\'s');
  assert.equal(pkg.exports['.'].types, './stylize-api.d.ts');
  assert.equal(pkg.exports['./element'].types, './style-transfer.d.ts');
  for (const f of listed) assert.ok(fs.existsSync(path.join(scratch, 'package', f)), f);
  const size = fs.statSync(tgz).size;
  const unpacked = listed.reduce((n, f) => n + fs.statSync(path.join(scratch, 'package', f)).size, 0);
  console.log(`package: ${path.basename(tgz)} ${(size / 1e6).toFixed(2)} MB packed, ${(unpacked / 1e6).toFixed(2)} MB unpacked, ${listed.length} files`);
});

test('a page on another origin with a strict CSP imports the package with CORS, takes the weights from a third origin, and downloads a PNG', async () => {
  const pkg = await serve(path.join(scratch, 'package'), { headers: CORS });
  const weightsDir = path.join(scratch, 'weights-host');
  fs.mkdirSync(weightsDir, { recursive: true });
  const good = fs.readFileSync(path.join(DIST, WEIGHTS));
  fs.writeFileSync(path.join(weightsDir, 'vgg19.safetensors'), good);
  const tampered = Buffer.from(good);
  tampered[tampered.length >> 1] ^= 0x40;
  fs.writeFileSync(path.join(weightsDir, 'tampered.safetensors'), tampered);
  const weights = await serve(weightsDir, { headers: CORS });
  const site = path.join(scratch, 'site');
  fs.cpSync(path.join(ROOT, 'tests/package/embed'), site, { recursive: true });
  fs.copyFileSync(path.join(DIST, 'samples', PHOTO), path.join(site, 'photo.png'));
  fs.copyFileSync(path.join(DIST, 'samples', PAINTING), path.join(site, 'painting.png'));
  // What the package README asks of an embedding page, plus 'self' for the page's own script and images.
  const csp = `default-src 'none'; script-src 'self' ${pkg.url} 'wasm-unsafe-eval'; connect-src 'self' ${pkg.url} ${weights.url}; img-src 'self'; base-uri 'none'; form-action 'none'`;
  const page0 = await serve(site, { headers: { 'content-security-policy': csp } });
  const url = `${page0.url}/index.html?pkg=${encodeURIComponent(pkg.url)}&weights=${encodeURIComponent(`${weights.url}/vgg19.safetensors`)}`;
  const violations = () => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  };
  try {
    const { page, log, context } = await openPage(b, url, { init: violations });
    await page.waitForFunction(() => window.__embedApi);
    const [download, run] = await Promise.all([page.waitForEvent('download', { timeout: 300_000 }), page.evaluate(() => window.__embedApi.runElement())]);
    assert.equal(run.width, 32);
    assert.ok(run.iteration >= 8, `ran ${run.iteration} iterations`);
    const file = path.join(OUT, 'package-embedded.png');
    await download.saveAs(file);
    assert.deepEqual(pngSize(fs.readFileSync(file)), { width: run.width, height: run.height });
    assert.ok(pkg.requests.some((r) => r.endsWith('/stylize_bg.wasm')), 'the wasm came from the package origin');
    assert.equal(weights.requests.filter((r) => r === '/vgg19.safetensors').length, 1, 'the weights came from the third origin');

    const missing = await page.evaluate((u) => window.__embedApi.create(u), `${weights.url}/missing.safetensors`);
    assert.equal(missing.ok, false);
    assert.equal(missing.name, 'Weights');
    assert.equal(missing.status, 404);
    assert.match(missing.message, new RegExp(`HTTP 404 for ${weights.url}/missing\\.safetensors`));
    const bad = await page.evaluate((u) => window.__embedApi.create(u), `${weights.url}/tampered.safetensors`);
    assert.equal(bad.name, 'Weights');
    assert.match(bad.message, new RegExp(`${weights.url}/tampered\\.safetensors.*SHA-256`));
    const badAgain = await page.evaluate((u) => window.__embedApi.create(u), `${weights.url}/tampered.safetensors`);
    assert.equal(badAgain.name, 'Weights', 'a tampered file is not cached');
    assert.equal(weights.requests.filter((r) => r === '/tampered.safetensors').length, 2);

    // A second visit (same browser profile): the weights come from Cache Storage.
    const before = weights.requests.length;
    await page.reload();
    await page.waitForFunction(() => window.__embedApi);
    const again = await page.evaluate((u) => window.__embedApi.create(u), `${weights.url}/vgg19.safetensors`);
    assert.deepEqual(again, { ok: true, fromCache: true });
    assert.deepEqual(weights.requests.slice(before), [], 'the second visit makes no weights request');

    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no CSP violation');
    assert.deepEqual(log.errors.filter((e) => !/404|Failed to load resource/.test(e)), [], 'no console error but the 404s asked for');
    // The policy is in force and the listener hears it: a request the README does not allow is refused.
    await page.evaluate(() => fetch('http://localhost:9/not-allowed').catch(() => {}));
    await page.waitForFunction(() => window.__violations.length > 0);
    assert.match((await page.evaluate(() => window.__violations))[0], /^connect-src http:\/\/localhost:9/);
    await context.close();
  } finally {
    await Promise.all([pkg.close(), weights.close(), page0.close()]);
  }
});

/** A scratch app with the tarball installed as a dependency (npm install ./stylize-*.tgz, offline). */
function scratchApp(name) {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tgz], { cwd: dir, stdio: 'inherit' });
  return dir;
}

test('tsc --strict type-checks the typed example against the packed declarations, and a renamed API fails it', () => {
  const dir = scratchApp('typed');
  fs.cpSync(path.join(ROOT, 'tests/package/typed-example.ts'), path.join(dir, 'typed-example.ts'));
  fs.cpSync(path.join(ROOT, 'tests/package/tsconfig.json'), path.join(dir, 'tsconfig.json'));
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  const ok = spawnSync(tsc, ['-p', dir, '--noEmit', '--strict'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, `tsc: ${ok.stdout}${ok.stderr}`);
  // The check can fail: rename one method in the installed declarations.
  const dts = path.join(dir, 'node_modules/stylize/stylize-api.d.ts');
  const text = fs.readFileSync(dts, 'utf8');
  assert.match(text, /\bpngBlob\(/);
  fs.writeFileSync(dts, text.replace(/\bpngBlob\(/g, 'toPngBlob('));
  const renamed = spawnSync(tsc, ['-p', dir, '--noEmit', '--strict'], { encoding: 'utf8' });
  assert.notEqual(renamed.status, 0, 'tsc fails once pngBlob is renamed');
  assert.match(renamed.stdout, /pngBlob/);
});

test('an app bundled by esbuild from the installed tarball runs the API and the element', async () => {
  const dir = scratchApp('bundled');
  const www = path.join(dir, 'www');
  fs.mkdirSync(www);
  await esbuild.build({ entryPoints: [path.join(ROOT, 'tests/package/bundle/app.js')], bundle: true, format: 'esm', target: 'es2022',
    outfile: path.join(www, 'app.js'), nodePaths: [path.join(dir, 'node_modules')], logLevel: 'error' });
  // What the package README says a bundled app copies beside its bundle.
  const installed = path.join(dir, 'node_modules/stylize');
  for (const f of ['stylize_bg.wasm', 'png-worker.js', WEIGHTS]) fs.cpSync(path.join(installed, f), path.join(www, f));
  fs.copyFileSync(path.join(ROOT, 'tests/package/bundle/index.html'), path.join(www, 'index.html'));
  fs.copyFileSync(path.join(DIST, 'samples', PHOTO), path.join(www, 'photo.png'));
  fs.copyFileSync(path.join(DIST, 'samples', PAINTING), path.join(www, 'painting.png'));
  const bundle = fs.readFileSync(path.join(www, 'app.js'), 'utf8');
  assert.ok(!/from\s+['"]stylize/.test(bundle), 'stylize is inside the bundle');
  const site = await serve(www);
  try {
    const { page, log, context } = await openPage(b, `${site.url}/index.html`);
    const r = await page.evaluate(() => window.__bundle);
    assert.equal(r.ok, true, `bundled app: ${r.name}: ${r.message}`);
    assert.equal(r.api.width, 32);
    assert.equal(r.api.pngType, 'image/png');
    assert.ok(r.api.pngBytes > 100);
    assert.equal(r.element.width, 32);
    assert.deepEqual(log.errors, []);
    await context.close();
  } finally {
    await site.close();
  }
});
