// The npm package in headless Chromium (Debian's, driven by playwright-core), against a page
// served from localhost: URL loading with progress, classification in module and classic
// workers, Cache API reuse across reloads, and parity with the native CLI.
// Run by scripts/test.sh after `npm run build`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { extname } from 'node:path';
import { chromium } from 'playwright-core';

const root = new URL('../../', import.meta.url);
const served = ['/dist/', '/models/', '/tests/browser/'];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
const requests = new Map();

const server = createServer(async (request, response) => {
  const path = new URL(request.url, 'http://localhost').pathname;
  requests.set(path, (requests.get(path) ?? 0) + 1);
  if (!served.some((prefix) => path.startsWith(prefix)) || path.includes('..')) {
    response.writeHead(404).end();
    return;
  }
  try {
    const file = new URL(`.${path}`, root);
    const { size } = await stat(file);
    response.writeHead(200, {
      'content-type': types[extname(path)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-store',
    });
    response.end(await readFile(file));
  } catch {
    response.writeHead(404).end();
  }
});

let browser;
let page;
let origin;

before(async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${origin}/tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true);
  assert.deepEqual(errors, []);
});

after(async () => {
  await browser?.close();
  server.close();
});

const policy = JSON.parse(readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8'));
const posts = readFileSync(new URL('crates/tamis-cli/samples/posts.txt', root), 'utf8').split('\n').filter(Boolean);
const modelPath = '/models/minilm-l6-int8/model.onnx';

test('loads from URLs with progress, then reuses the Cache API on reload', async () => {
  const first = await page.evaluate(() => window.loadOnPage());
  assert.equal(first.backend, 'wasm');
  assert.equal(first.dimension, 384);
  const model = first.progress.filter((p) => p.file === 'model');
  const size = readFileSync(new URL(`.${modelPath}`, root)).length;
  assert.ok(model.length > 2, `several progress events, got ${model.length}`);
  assert.deepEqual(model.at(-1), { file: 'model', loaded: size, total: size, cached: false });
  assert.equal(requests.get(modelPath), 1);

  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const second = await page.evaluate(() => window.loadOnPage());
  assert.equal(requests.get(modelPath), 1, 'the second load made no model request');
  assert.equal(second.progress.filter((p) => p.file === 'model').at(-1).cached, true);
});

for (const kind of ['module', 'classic']) {
  test(`classifies in a ${kind} worker, with coded errors, as the native CLI does`, async () => {
    const result = await page.evaluate(([k, p, t]) => window.classifyInWorker(k, p, t), [kind, policy, posts]);
    assert.equal(result.backend, 'wasm');
    assert.ok(result.progress > 0);
    assert.deepEqual(result.refusal, { name: 'TamisError', code: 'unknown_category' });
    const nativeBinary = process.env.TAMIS_BIN ?? new URL('target/debug/tamis', root).pathname;
    const native = execFileSync(nativeBinary, ['--model', new URL('models/minilm-l6-int8', root).pathname, 'classify', '--output', 'json'], { encoding: 'utf8' })
      .trim().split('\n').map((line) => JSON.parse(line).verdict);
    assert.equal(result.verdicts.length, native.length);
    result.verdicts.forEach((verdict, i) => {
      assert.deepEqual(verdict.labels, native[i].labels);
      assert.equal(verdict.action, native[i].action);
      verdict.scores.forEach((score, j) => {
        assert.ok(Math.abs(score.score - native[i].scores[j].score) <= 1e-5, `post ${i}, ${score.category}`);
      });
    });
  });
}
