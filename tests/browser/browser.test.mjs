// The npm package in headless Chromium (Debian's, driven by playwright-core), against a page
// served from localhost: URL loading with progress, classification in module and classic
// workers, Cache API reuse across reloads (and loads that go on when it refuses), and parity with
// the native CLI.
// Run by scripts/test.sh after `npm run build`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../support/serve.mjs';
import { launchOptions } from './chromium.mjs';

const root = new URL('../../', import.meta.url);
const { server, requests, origin } = await startServer({
  routes: { '/dist/': 'dist/', '/models/': 'models/', '/tests/browser/': 'tests/browser/' },
});

let browser;
let page;

before(async () => {
  browser = await chromium.launch(launchOptions);
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
  assert.equal(first.backend, 'cpu');
  assert.equal(first.dimension, 384);
  const model = first.progress.filter((p) => p.file === 'model');
  const size = readFileSync(new URL(`.${modelPath}`, root)).length;
  assert.ok(model.length > 2, `several progress events, got ${model.length}`);
  assert.deepEqual(model.at(-1), {
    status: 'done', file: 'model', url: new URL(modelPath, origin).href, loaded: size, total: size, progress: 100, cached: false,
  });
  assert.deepEqual(first.progress.at(-1), { status: 'ready', backend: 'cpu' });
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
    assert.equal(result.backend, 'cpu');
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

/** Loads by name on the page's thread, classifies `texts` and disposes (runs in the page). */
async function classifyOnPage([policy, texts]) {
  const { Tamis } = await import('/dist/index.js');
  const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: '/models/' });
  try {
    return await (await tamis.classifier(policy)).classify(texts);
  } finally {
    await tamis.dispose();
  }
}

// Chromium refuses Cache API writes at times (net::ERR_CACHE_WRITE_FAILURE, a full disk, a
// private mode): caching is an optimization, so loads must go on without it, again and again.
for (const [refused, method] of [['caches.open', 'open'], ['cache.put', 'put']]) {
  test(`a refused ${refused} does not fail a load, nor the next one`, async () => {
    const texts = posts.slice(0, 4);
    const expected = await page.evaluate(classifyOnPage, [policy, texts]);
    const context = await browser.newContext();
    await context.addInitScript((name) => {
      window.refusedCacheCalls = 0;
      const target = name === 'open' ? CacheStorage.prototype : Cache.prototype;
      target[name] = function refuse() {
        window.refusedCacheCalls += 1;
        return Promise.reject(new DOMException('refused by the test', 'UnknownError'));
      };
    }, method);
    try {
      const refusing = await context.newPage();
      await refusing.goto(`${origin}/tests/browser/page.html`);
      await refusing.waitForFunction(() => window.ready === true);
      const modelRequests = requests.get(modelPath) ?? 0;
      const first = await refusing.evaluate(classifyOnPage, [policy, texts]);
      const second = await refusing.evaluate(classifyOnPage, [policy, texts]);
      assert.deepEqual(first, expected);
      assert.deepEqual(second, expected);
      assert.ok(await refusing.evaluate(() => window.refusedCacheCalls) >= 2, `${refused} was called and refused`);
      assert.equal(requests.get(modelPath), modelRequests + 2, 'nothing was cached: each load fetched the model');
    } finally {
      await context.close();
    }
  });
}

test('two workers classify at the same time and agree', async () => {
  const texts = posts.slice(0, 6);
  const [first, second] = await page.evaluate(
    ([p, t]) => Promise.all([window.classifyInWorker('module', p, t), window.classifyInWorker('module', p, t)]),
    [policy, texts],
  );
  assert.equal(first.verdicts.length, texts.length);
  assert.deepEqual(first.verdicts, second.verdicts);
});
