// The Manifest V3 extension (examples/browser-extension) loaded unpacked in headless Chromium,
// on a local page that reproduces Mastodon's status markup with posts from the data set: the
// posts the policy filters are filtered as the SDK says, the others untouched, new statuses
// too; editing the policy in the options page changes the result; the extension makes no
// network request; the model runs on every core (at most 4) with the threaded module. Ends in
// a screenshot (test-output/extension.png). Packaged with both models, choosing e5-small-q4 in
// the options page makes the extension filter as the SDK does with e5, the German, Japanese
// and Spanish posts included (test-output/extension-e5.png).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { Tamis } from 'tamis';
import { demoPosts, startServer } from '../support/serve.mjs';
import { launchOptions, outputPath } from './chromium.mjs';
import { bundleFiles, E5_DIR } from '../support/bundle.mjs';

const root = new URL('../../', import.meta.url);
const extension = new URL('examples/browser-extension/', root).pathname;
const packaging = execFileSync(process.execPath, [`${extension}package.mjs`, '--model', 'minilm-l6-int8', '--model', 'e5-small-q4'], { encoding: 'utf8' });
console.log(packaging.trim());

const spam = 'WINNER!! You have been selected for a FREE cruise. Reply YES to claim your prize now';
const multilingual = JSON.parse(readFileSync(new URL('www/multilingual-posts.json', root), 'utf8')).posts;
const texts = [...demoPosts(40).posts.map((post) => post.text), ...multilingual.map((post) => post.text),
  spam, 'Our library now lends out telescopes for stargazing nights.'];
const germanSpam = texts.indexOf(multilingual.find((post) => post.id === 'de-spam').text);
const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const article = (text, i) =>
  `<article data-index="${i}"><div class="status"><div class="status__content"><p>${escape(text)}</p></div></div></article>`;
const page = `<!doctype html><meta charset="utf-8"><title>Home - Mastodon</title>
<div class="columns-area"><div class="item-list" role="feed">${texts.map(article).join('\n')}</div></div>
<script>window.addStatus = (html) => document.querySelector('.item-list').insertAdjacentHTML('beforeend', html);</script>`;
const { server, origin, requests } = await startServer({ routes: {}, generated: { '/home.html': page } });

const context = await chromium.launchPersistentContext(mkdtempSync(`${tmpdir()}/tamis-extension-`), {
  ...launchOptions,
  args: [...launchOptions.args, `--disable-extensions-except=${extension}`, `--load-extension=${extension}`],
});
const outside = [];
context.on('request', (request) => {
  const url = request.url();
  if (!url.startsWith(origin) && !url.startsWith('chrome-extension://')) outside.push(url);
});
after(async () => {
  await context.close();
  server.close();
});

// What the SDK decides for the same texts under the same policy: the expected actions.
const tamis = await Tamis.load(bundleFiles());
const policy = readFileSync(new URL('default-policy.json', `file://${extension}`), 'utf8');
const expectedActions = async (sdk) => (await (await sdk.classifier(policy)).classify(texts)).map((v) => v.action ?? 'none');
const expected = await expectedActions(tamis);

const actions = (tab) => tab.$$eval('article', (all) => all.map((a) => a.querySelector('.status')?.dataset.tamis ?? a.dataset.tamis ?? 'unset'));
const filteredCount = (tab, count) =>
  tab.waitForFunction((n) => Number(document.documentElement.dataset.tamisFiltered ?? 0) >= n, count, { timeout: 180_000 });

test('the extension filters Mastodon statuses in place, as the SDK decides', async () => {
  const tab = await context.newPage();
  await tab.goto(`${origin}/home.html`);
  await filteredCount(tab, texts.length);
  assert.deepEqual(await actions(tab), expected);
  const spamStatus = tab.locator('article').nth(texts.length - 2).locator('.status');
  assert.equal(await spamStatus.getAttribute('data-tamis'), 'hide');
  assert.equal(await spamStatus.isVisible(), false);
  assert.equal(await tab.locator('article').nth(texts.length - 1).locator('.status__content').isVisible(), true);

  // A status arriving later (scrolling, streaming) is filtered too.
  await tab.evaluate((html) => window.addStatus(html), article(spam.replace('cruise', 'holiday'), texts.length));
  await filteredCount(tab, texts.length + 1);
  assert.equal(await tab.locator('article').last().locator('.status').getAttribute('data-tamis'), 'hide');
  await tab.screenshot({ path: outputPath('extension.png') });

  // Unblocking spam in the options page lets spam through.
  const [worker] = context.serviceWorkers();
  const id = new URL(worker.url()).host;
  const options = await context.newPage();
  await options.goto(`chrome-extension://${id}/options.html`);
  await options.waitForSelector('body[data-loaded="true"]');
  const edited = JSON.parse(await options.inputValue('#policy'));
  edited.categories.find((c) => c.name === 'spam').blocked = false;
  await options.fill('#policy', JSON.stringify(edited));
  await options.click('#save');
  await options.waitForSelector('#message[data-state="saved"]');
  await tab.waitForFunction((i) => document.querySelectorAll('article')[i].querySelector('.status').dataset.tamis === 'none', texts.length - 2);

  // A broken policy is refused and changes nothing.
  await options.fill('#policy', '{"version": 1, "mode": "binary", "categories": []}');
  await options.click('#save');
  await options.waitForSelector('#message[data-state="refused"]');
  assert.match(await options.textContent('#message'), /at least one category/);

  // The extension is cross-origin isolated (manifest.json's COOP/COEP keys): its offscreen
  // document's worker splits each call over the cores with the threaded module.
  const { diagnostics } = await options.evaluate(() => chrome.runtime.sendMessage({ type: 'get-diagnostics' }));
  const cores = Math.min(availableParallelism(), 4);
  assert.equal(diagnostics.threads.count, cores, diagnostics.threads.reason);
  assert.equal(diagnostics.threads.code, cores > 1 ? 'asked' : 'one_asked');
  console.log(`threads in the extension: ${diagnostics.threads.reason}`);

  assert.deepEqual(outside, [], 'no request left the machine');
  // The page itself and the browser's own favicon probe; nothing from the extension.
  assert.deepEqual([...requests.keys()].filter((path) => path !== '/favicon.ico'), ['/home.html']);
});

test('the options page switches to e5-small-q4, and the extension filters as the SDK does with e5', async () => {
  const e5 = await Tamis.load({ model: 'e5-small-q4', baseUrl: new URL('../', E5_DIR) });
  const expectedWithE5 = await expectedActions(e5);
  assert.equal(expectedWithE5[germanSpam], 'hide', 'e5 hides the German spam');

  const [worker] = context.serviceWorkers();
  const options = await context.newPage();
  await options.goto(`chrome-extension://${new URL(worker.url()).host}/options.html`);
  await options.waitForSelector('body[data-loaded="true"]');
  // The default policy back (the first test edited it), then the model.
  await options.fill('#policy', policy);
  await options.click('#save');
  await options.waitForSelector('#message[data-state="saved"]');
  assert.deepEqual(await options.$$eval('#model option', (all) => all.map((o) => o.value)), ['minilm-l6-int8', 'e5-small-q4']);
  assert.equal(await options.inputValue('#model'), 'minilm-l6-int8');
  await options.selectOption('#model', 'e5-small-q4');
  await options.waitForSelector('#model-message[data-state="saved"]', { timeout: 300_000 });
  const message = await options.textContent('#model-message');
  assert.match(message, /^Saved: loaded in [\d.]+ s on the CPU\.$/, 'e5 has built-in priors: no note about them');
  console.log(`e5-small-q4 in the extension: ${message}`);

  const tab = await context.newPage();
  await tab.goto(`${origin}/home.html`);
  await filteredCount(tab, texts.length);
  assert.deepEqual(await actions(tab), expectedWithE5);
  assert.notDeepEqual(expectedWithE5, expected, 'the verdicts are e5\'s, not MiniLM\'s');
  assert.equal(await tab.locator('article').nth(germanSpam).locator('.status').isVisible(), false);
  await tab.screenshot({ path: outputPath('extension-e5.png') });

  // The choice is stored: the options page shows it again.
  await options.reload();
  await options.waitForSelector('body[data-loaded="true"]');
  assert.equal(await options.inputValue('#model'), 'e5-small-q4');
  assert.deepEqual(outside, [], 'no request left the machine');
});
