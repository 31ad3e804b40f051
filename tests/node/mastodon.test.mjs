// The Mastodon client adapter with the real client library masto.js against a local server
// that serves Mastodon API v1 home timelines built from ../shared/data/harmful/mastodon.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRestAPIClient } from 'masto';
import { Tamis } from 'tamis';
import { filterStatuses, htmlToText, statusText } from 'tamis/mastodon';
import { bundleFiles } from '../support/bundle.mjs';
import { homeTimeline, status } from '../support/mastodon-api.mjs';

const root = new URL('../../', import.meta.url);
const policy = JSON.parse(readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8'));
const timeline = homeTimeline(30);

const server = createServer((request, response) => {
  const path = new URL(request.url, 'http://localhost').pathname;
  if (path !== '/api/v1/timelines/home') return response.writeHead(404).end('{}');
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(timeline));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
after(() => server.close());

const tamis = await Tamis.load(bundleFiles());
const classifier = await tamis.classifier(policy);
const masto = createRestAPIClient({ url: `http://127.0.0.1:${server.address().port}`, accessToken: 'local' });

test('reads the visible text of statuses: HTML, entities, reblogs, warnings, media', () => {
  assert.equal(htmlToText('<p>a &amp; b&#33;</p><p>c<br/>d &#x263A;</p>'), 'a & b!\nc\nd ☺');
  assert.match(statusText(timeline.at(-2)), /^WINNER!! You have won a £1000 prize! Call now/);
  assert.equal(
    statusText(status(5, '<p>text</p>', { spoiler_text: 'cw', media_attachments: [{ description: 'a cat' }] })),
    'cw\ntext\na cat',
  );
});

test('adds FilterResults in Mastodon\'s shape to statuses fetched with masto.js', async () => {
  const fetched = await masto.v1.timelines.home.list({ limit: 40 });
  assert.equal(fetched.length, timeline.length);
  const filtered = await filterStatuses(classifier, fetched, { context: 'home' });
  const verdicts = await classifier.classify(fetched.map(statusText));
  const actions = new Map(policy.categories.map((c) => [c.name, c.action ?? 'hide']));

  // masto.js camelCases the entities; the adapter answers in the same case.
  filtered.forEach((status, i) => {
    const ours = (status.filtered ?? []).filter((r) => r.filter.id.startsWith('tamis:'));
    const expected = verdicts[i].labels.filter((label) => verdicts[i].scores.find((s) => s.category === label).blocked);
    assert.deepEqual(ours.map((r) => r.filter.id), expected.map((label) => `tamis:${label}`), `status ${status.id}`);
    for (const result of ours) {
      assert.equal(result.filter.filterAction, actions.get(result.filter.id.slice('tamis:'.length)));
      assert.ok(result.filter.context.includes('home'));
      assert.equal(result.keywordMatches, null);
    }
  });
  const byId = new Map(filtered.map((s) => [s.id, s]));
  assert.deepEqual(byId.get('1').filtered.map((r) => [r.filter.id, r.filter.filterAction]), [['tamis:spam', 'hide']]);
  assert.deepEqual(byId.get('2').filtered.map((r) => r.filter.id), ['tamis:spam'], 'a reblog is judged by what it shares');
  assert.equal(byId.get('4').filtered.length, 1, "the server's own result is kept, nothing added");
  assert.equal(byId.get('4').filtered[0].filter.filterAction, 'warn');
  assert.ok(filtered.every((s, i) => s === fetched[i] || s.filtered.length > (fetched[i].filtered ?? []).length));
});

test('entities as the API sends them (snake_case) get results in that case', async () => {
  const [result] = (await filterStatuses(classifier, [timeline.find((s) => s.id === '1')], { context: 'home' }))[0].filtered;
  assert.equal(result.filter.filter_action, 'hide');
  assert.equal(result.filter.expires_at, null);
  assert.equal(result.keyword_matches, null);
});

test('a category acts only in its contexts', async () => {
  const fetched = await masto.v1.timelines.home.list();
  const contexts = { spam: ['public', 'thread'] };
  const home = await filterStatuses(classifier, fetched, { context: 'home', contexts });
  const publicTimeline = await filterStatuses(classifier, fetched, { context: 'public', contexts });
  const spamIn = (statuses) => statuses.filter((s) => (s.filtered ?? []).some((r) => r.filter.id === 'tamis:spam')).length;
  assert.equal(spamIn(home), 0);
  assert.ok(spamIn(publicTimeline) >= 2);
  const result = publicTimeline.find((s) => s.id === '1').filtered[0];
  assert.deepEqual(result.filter.context, ['public', 'thread']);
});
