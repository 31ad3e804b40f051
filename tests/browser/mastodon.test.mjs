// The Mastodon client adapter in headless Chromium: the example web client
// (examples/mastodon-client/browser), bundled with esbuild, fetches a home timeline with
// masto.js from a local server speaking Mastodon API v1 (statuses built from the data set),
// runs `filterStatuses` in a worker and renders the results with Mastodon's filter UI. The test
// checks each status's rendering against tamis's verdicts and ends in a screenshot
// (test-output/mastodon-client.png).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { Tamis } from 'tamis';
import { statusText } from 'tamis/mastodon';
import { startServer } from '../support/serve.mjs';
import { bundleFiles } from '../support/bundle.mjs';
import { homeTimeline } from '../support/mastodon-api.mjs';
import { launchOptions, outputPath } from './chromium.mjs';

const root = new URL('../../', import.meta.url);
const policyJson = readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8');
const timeline = homeTimeline(30);
const client = '/examples/mastodon-client/browser/';
const [bundled] = (await build({
  entryPoints: [new URL(`.${client}timeline.mjs`, root).pathname],
  bundle: true, format: 'esm', write: false, logLevel: 'error',
})).outputFiles;

const { server, requests, origin } = await startServer({
  routes: { '/dist/': 'dist/', '/models/': 'models/', [client]: client.slice(1) },
  generated: {
    '/api/v1/timelines/home': JSON.stringify(timeline),
    [`${client}timeline.js`]: bundled.text,
    [`${client}policy.json`]: policyJson,
  },
});
const browser = await chromium.launch(launchOptions);
after(async () => {
  await browser.close();
  server.close();
});

test('a web client shows tamis\'s FilterResults with Mastodon\'s own filter UI', async () => {
  const page = await (await browser.newContext({ viewport: { width: 900, height: 1100 } })).newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${origin}${client}index.html`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  assert.deepEqual(errors, []);
  assert.equal(requests.get('/api/v1/timelines/home'), 1, 'masto.js fetched the home timeline');

  // What each status should show: the strictest action of tamis's blocked labels (in Node, the
  // same package), or of the server's own results.
  const tamis = await Tamis.load(bundleFiles());
  const policy = JSON.parse(policyJson);
  const classifier = await tamis.classifier(policy);
  const verdicts = await classifier.classify(timeline.map(statusText));
  await tamis.dispose();
  const order = ['none', 'warn', 'blur', 'hide'];
  const actionOf = new Map(policy.categories.map((c) => [c.name, c.action ?? 'hide']));
  const expected = timeline.map((status, i) => {
    const blocked = verdicts[i].labels.filter((label) => verdicts[i].scores.find((s) => s.category === label).blocked);
    const actions = [...blocked.map((label) => actionOf.get(label)), ...status.filtered.map((r) => r.filter.filter_action)];
    return actions.reduce((strictest, action) => (order.indexOf(action) > order.indexOf(strictest) ? action : strictest), 'none');
  });

  const rendered = new Map(await page.$$eval('article.status', (articles) => articles.map((a) => [a.dataset.id, a.dataset.action])));
  timeline.forEach((status, i) => {
    assert.equal(rendered.get(status.id) ?? 'hide', expected[i], `status ${status.id}`);
  });
  assert.equal(rendered.has('1'), false, 'spam is hidden');
  assert.equal(rendered.has('2'), false, 'a reblog of spam is hidden');
  assert.equal(rendered.get('4'), 'warn', "the server's own warning still shows");
  assert.ok([...rendered.values()].includes('none'), 'most statuses pass');
  const hidden = expected.filter((action) => action === 'hide').length;
  assert.equal(await page.textContent('#hidden-count'), `${hidden} statuses hidden by your filters.`);

  // "Show anyway" reveals a warned status, as in Mastodon.
  const warned = page.locator('article.status.warn').first();
  assert.equal(await warned.locator('.content').isVisible(), false);
  await warned.locator('button').click();
  assert.equal(await warned.locator('.content').isVisible(), true);
  await page.screenshot({ path: outputPath('mastodon-client.png'), fullPage: true });
});
