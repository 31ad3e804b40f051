// The WebGPU backend in headless Chromium: with --enable-unsafe-webgpu Chromium offers
// SwiftShader (a software adapter) and the gpu backend must match the cpu backend (tract in wasm);
// without the flag there is no adapter and `backend: "auto"` must run on cpu and say why.
// Run by scripts/test.sh after `npm run build`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../support/serve.mjs';
import { launchOptions } from './chromium.mjs';

const root = new URL('../../', import.meta.url);
const { server, origin } = await startServer({
  routes: { '/dist/': 'dist/', '/models/': 'models/', '/tests/browser/': 'tests/browser/' },
});
const read = (path) => readFileSync(new URL(path, root), 'utf8');
const sentences = read('crates/tamis-model/tests/parity/sentences.txt').split('\n').filter(Boolean);
const policy = JSON.parse(read('crates/tamis-cli/samples/policy.json'));
const posts = read('crates/tamis-cli/samples/posts.txt').split('\n').filter(Boolean);

const browsers = [];
async function openPage(args) {
  const browser = await chromium.launch({ ...launchOptions, args });
  browsers.push(browser);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${origin}/tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true);
  assert.deepEqual(errors, []);
  return page;
}

let withWebGpu;
let withoutWebGpu;
before(async () => {
  withWebGpu = await openPage([...launchOptions.args, '--enable-unsafe-webgpu']);
  withoutWebGpu = await openPage(launchOptions.args);
});

after(async () => {
  await Promise.all(browsers.map((browser) => browser.close()));
  server.close();
});

const cosine = (a, b) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i];
    na += x * x;
    nb += b[i] * b[i];
  });
  return dot / Math.sqrt(na * nb);
};

/** Same decisions; scores equal to 1e-3 (the GPU sums in another order). */
function assertSameVerdicts(actual, expected) {
  assert.equal(actual.length, expected.length);
  actual.forEach((verdict, i) => {
    assert.deepEqual(verdict.labels, expected[i].labels, `post ${i}`);
    assert.equal(verdict.harmful, expected[i].harmful, `post ${i}`);
    assert.equal(verdict.action, expected[i].action, `post ${i}`);
    verdict.scores.forEach((score, j) => {
      assert.ok(Math.abs(score.score - expected[i].scores[j].score) <= 1e-3, `post ${i}, ${score.category}`);
    });
  });
}

test('on SwiftShader, gpu embeddings match cpu (cosine >= 0.999) and verdicts are identical', async (t) => {
  const gpu = await withWebGpu.evaluate(([s, p, t]) => window.computeOn('gpu', s, p, t), [sentences, policy, posts]);
  const wasm = await withWebGpu.evaluate(([s, p, t]) => window.computeOn('cpu', s, p, t), [sentences, policy, posts]);
  assert.equal(gpu.backend, 'gpu');
  assert.equal(wasm.backend, 'cpu');
  assert.equal(gpu.vectors.length, sentences.length);
  const cosines = gpu.vectors.map((vector, i) => cosine(vector, wasm.vectors[i]));
  t.diagnostic(`lowest cosine over ${cosines.length} sentences: ${Math.min(...cosines)}`);
  cosines.forEach((c, i) => assert.ok(c >= 0.999, `sentence ${i}: cosine ${c}`));
  assertSameVerdicts(gpu.verdicts, wasm.verdicts);
});

test('on SwiftShader, e5 (4-bit blocks dequantized in WGSL) matches wasm: cosine >= 0.9999 per text', async (t) => {
  // e5's reference texts: 14 languages and scripts, emoji and ZWJ sequences, one of about 360 tokens.
  const texts = read('crates/tamis-model/tests/support/e5-reference/texts.txt').split('\n').filter(Boolean);
  // The short texts in one call (batched), the long one in its own (it would pad them all).
  const groups = [texts.filter((text) => text.length < 200), texts.filter((text) => text.length >= 200)];
  const gpu = await withWebGpu.evaluate((groups) => window.embedE5On('gpu', groups), groups);
  const wasm = await withWebGpu.evaluate((groups) => window.embedE5On('cpu', groups), groups);
  assert.equal(gpu.backend, 'gpu');
  assert.equal(wasm.backend, 'cpu');
  assert.deepEqual(gpu.tokens, wasm.tokens);
  assert.ok(Math.max(...gpu.tokens) > 300);
  const cosines = gpu.vectors.map((vector, i) => cosine(vector, wasm.vectors[i]));
  t.diagnostic(`e5: lowest cosine over ${cosines.length} texts: ${Math.min(...cosines)}`);
  cosines.forEach((c, i) => assert.ok(c >= 0.9999, `text ${i}: cosine ${c}`));
});

test('WebGPU reports its adapter; auto skips a software adapter and says why', async () => {
  const gpu = await withWebGpu.evaluate(() => window.loadOn('gpu'));
  assert.equal(gpu.backend, 'gpu');
  assert.equal(gpu.diagnostics.backend, 'gpu');
  assert.equal(gpu.diagnostics.adapter.fallback, true, 'SwiftShader is a fallback adapter');
  assert.ok(gpu.diagnostics.adapter.maxStorageBufferBinding >= 128 << 20);
  const auto = await withWebGpu.evaluate(() => window.loadOn('auto'));
  assert.equal(auto.backend, 'cpu');
  assert.equal(auto.diagnostics.adapter.fallback, true);
  assert.match(auto.diagnostics.reason, /software/);
});

test('a GPU lost during use: the call is answered on cpu, and cpu serves from then on', async () => {
  const { before: onGpu, after: onWasm } = await withWebGpu.evaluate(([p, t]) => window.loseGpuDuringUse(p, t), [policy, posts]);
  assert.equal(onGpu.backend, 'gpu');
  assert.equal(onWasm.backend, 'cpu');
  assert.equal(onWasm.diagnostics.backend, 'cpu');
  assert.match(onWasm.diagnostics.reason, /GPU failed during use/);
  assertSameVerdicts(onWasm.verdicts, onGpu.verdicts);
});

test('WebGPU in a module worker', async () => {
  const texts = posts.slice(0, 4);
  const inWorker = await withWebGpu.evaluate(([p, t]) => window.classifyInWorkerOn('gpu', p, t), [policy, texts]);
  const onWasm = await withWebGpu.evaluate(([p, t]) => window.classifyInWorkerOn('cpu', p, t), [policy, texts]);
  assert.equal(inWorker.backend, 'gpu');
  assert.equal(inWorker.diagnostics.backend, 'gpu');
  assertSameVerdicts(inWorker.verdicts, onWasm.verdicts);
});

test('without the WebGPU flag, auto runs on cpu and says why; gpu is refused with a code', async () => {
  const auto = await withoutWebGpu.evaluate(() => window.loadOn('auto'));
  assert.equal(auto.backend, 'cpu');
  assert.equal(auto.diagnostics.adapter, null);
  assert.match(auto.diagnostics.reason, /no usable GPU/);
  const gpu = await withoutWebGpu.evaluate(() => window.loadOn('gpu'));
  assert.equal(gpu.error.name, 'TamisError');
  assert.equal(gpu.error.code, 'backend_unavailable');
});
