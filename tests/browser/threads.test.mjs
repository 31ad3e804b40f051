// The threaded wasm module in headless Chromium: on a cross-origin isolated page (the server
// sends COOP and COEP), a worker loading tamis with threads: 2 runs the threaded module on two
// Web Workers and gives the same bits as the single-thread module, embeddings and scores, on
// Mastodon posts 32 and one per call; without isolation, and on a page's main thread, tamis
// falls back to one thread and says why.
// Run by scripts/test.sh after `npm run build` (which builds both modules).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { ISOLATION_HEADERS, demoPosts, startServer } from '../support/serve.mjs';
import { launchOptions } from './chromium.mjs';

const root = new URL('../../', import.meta.url);
const routes = { '/dist/': 'dist/', '/models/': 'models/', '/tests/browser/': 'tests/browser/' };
const isolated = await startServer({ routes, headers: ISOLATION_HEADERS });
const plain = await startServer({ routes });

const policy = JSON.parse(readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8'));
const { source, posts } = demoPosts(64);
const texts = posts.map((post) => post.text);

let browser;

/** A fresh page of `server`, its helpers ready. */
async function openPage(server) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.origin}/tests/browser/threads.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

before(async () => {
  browser = await chromium.launch(launchOptions);
});

after(async () => {
  await browser?.close();
  isolated.server.close();
  plain.server.close();
});

/** Every number of `a` and `b` the same bits (float32 values as JavaScript numbers). */
function assertSameBits(a, b, what) {
  assert.equal(a.length, b.length, what);
  a.forEach((value, i) => assert.ok(Object.is(value, b[i]), `${what}[${i}]: ${value} and ${b[i]}`));
}

// 32 posts per call split their runs of texts (e5: its forward passes) over the threads; one
// post per call splits its products' columns, its attention's heads and its passes over values
// (quantizing, GELU, layer norms) instead.
const splits = [['minilm-l6-int8', 64, 32], ['minilm-l6-int8', 8, 1], ['e5-small-q4', 32, 32], ['e5-small-q4', 8, 1]];
for (const [model, count, perCall] of splits) {
  test(`${model}: two threads in an isolated worker, the bits of one (${count} posts of ${source}, ${perCall} per call)`, async () => {
    const page = await openPage(isolated);
    const run = (threads) =>
      page.evaluate(([m, n, t, c, p]) => window.computeInWorker(m, n, t, c, p), [model, threads, texts.slice(0, count), perCall, policy]);
    const one = await run(1);
    const two = await run(2);
    assert.deepEqual(one.diagnostics.threads, {
      count: 1, module: 'single_thread', code: 'one_asked',
      reason: "1 thread: Tamis.load's threads option is 1 (the default); pass threads: 2 or 'auto' in a cross-origin isolated worker",
    });
    assert.deepEqual(two.diagnostics.threads, {
      count: 2, module: 'threaded', code: 'asked',
      reason: "2 threads: as asked, on the threaded module's pool of Web Workers",
    });
    assert.equal(two.vectors.length, count);
    two.vectors.forEach((vector, i) => assertSameBits(vector, one.vectors[i], `post ${i}`));
    assert.deepEqual(two.verdicts, one.verdicts);
  });
}

test('a page without COOP/COEP runs one thread and says why', async () => {
  const page = await openPage(plain);
  assert.equal(await page.evaluate(() => crossOriginIsolated), false);
  const { diagnostics } = await page.evaluate(() => window.diagnosticsInWorker(2, 'module'));
  assert.equal(diagnostics.threads.count, 1);
  assert.equal(diagnostics.threads.module, 'single_thread');
  assert.equal(diagnostics.threads.code, 'not_cross_origin_isolated');
  assert.match(diagnostics.threads.reason, /^1 thread: the page is not cross-origin isolated \(needs COOP\/COEP headers/);
});

test("an isolated page's main thread runs one thread and says to use a worker", async () => {
  const page = await openPage(isolated);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  const { diagnostics } = await page.evaluate(() => window.diagnosticsOnPage('auto'));
  assert.equal(diagnostics.threads.code, 'main_thread');
  assert.match(diagnostics.threads.reason, /^1 thread: a page's main thread cannot wait .* load tamis in a worker/);
});

test('the classic worker of an isolated page runs one thread and says to use the module worker', async () => {
  const page = await openPage(isolated);
  const { diagnostics } = await page.evaluate(() => window.diagnosticsInWorker(2, 'classic'));
  assert.equal(diagnostics.threads.code, 'classic_script');
  assert.match(diagnostics.threads.reason, /^1 thread: the classic-script bundles .* use the module worker/);
});

test('a worker whose first load asked one thread keeps its module, and says so', async () => {
  const page = await openPage(isolated);
  const { diagnostics } = await page.evaluate(() => window.diagnosticsAfterOneThread());
  assert.equal(diagnostics.threads.count, 1);
  assert.equal(diagnostics.threads.code, 'first_load');
  assert.match(diagnostics.threads.reason, /^1 thread: an earlier load in this worker chose the single-thread module/);
});
