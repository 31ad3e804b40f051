// Soak: many classify calls through the package's wasm API under a 200-example policy, with an
// edit every 1,000 calls; prints wasm memory and resident memory as it goes, as a markdown
// table, and with --svg draws the curve.
//
//   npm run build && node scripts/soak.mjs [--calls 100000] [--every 1000] [--svg FILE]
//   node scripts/soak.mjs --chromium [--calls 10000] ...
//
// In Node the calls run in this process (RSS: this process). With --chromium they run on the
// page's thread in headless Chromium, 1,000 calls per page.evaluate (RSS: every Chromium
// process together). Memory should stay flat after warm-up: the classifier's feature cache
// follows the policy and wasm memory is reused.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readCsv } from '../tests/support/csv.mjs';
import { bundleFiles } from '../tests/support/bundle.mjs';
import { chart } from './soak-chart.mjs';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '100000' },
    every: { type: 'string', default: '1000' },
    chromium: { type: 'boolean', default: false },
    svg: { type: 'string' },
  },
});
const calls = Number(values.calls);
const every = Number(values.every);
const root = new URL('../', import.meta.url);
const data = (path) => new URL(`../shared/data/harmful/${path}`, root).pathname;

// 200 examples from the training splits: spam, toxic and negative, plus texts to classify.
const train = (dataset, label, count) =>
  readCsv(data(`${dataset}/train.csv`), 5000).filter((row) => row.label === label).slice(0, count).map((row) => row.text.slice(0, 4000));
const categories = [
  { name: 'spam', examples: train('spam', 'spam', 70), action: 'hide' },
  { name: 'toxic', examples: train('textdetox', 'toxic', 70), action: 'blur' },
  { name: 'negative', examples: train('sst2', '0', 60), action: 'warn' },
];
const policy = { version: 1, mode: 'multilabel', categories: categories.map((c) => ({ ...c, examples: [...new Set(c.examples)] })) };
const spares = train('spam', 'spam', 80).slice(70);
const texts = readCsv(data('sst2/validation.csv'), 500).map((row) => row.text);

/** Alternately adds and removes a spare example: the policy and its cache change, then return. */
function editAfter(call) {
  const round = call / every;
  const adding = round % 2 === 1;
  const text = spares[(adding ? round : round - 1) % spares.length];
  return { op: adding ? 'add_example' : 'remove_example', category: 'spam', text };
}

const engine = values.chromium ? await chromiumEngine() : await nodeEngine();
const mb = (bytes) => (bytes / 2 ** 20).toFixed(0);
const rows = [];
console.log(`${engine.name}: ${calls} classify calls, one text each, an edit every ${every}`);
console.log('| calls | wasm memory (MiB) | RSS (MiB) | ms per call |');
console.log('|---:|---:|---:|---:|');
for (let call = 0; call < calls; call += every) {
  const started = performance.now();
  await engine.classifyEach(Array.from({ length: every }, (_, i) => texts[(call + i + 1) % texts.length]));
  const elapsed = (performance.now() - started) / every;
  await engine.edit(editAfter(call + every));
  const row = { calls: call + every, wasm: await engine.wasmBytes(), rss: engine.rssBytes(), ms: elapsed };
  rows.push(row);
  console.log(`| ${row.calls} | ${mb(row.wasm)} | ${mb(row.rss)} | ${row.ms.toFixed(1)} |`);
}
await engine.close();
if (values.svg) {
  writeFileSync(values.svg, chart(rows, engine.name));
  console.log(`wrote ${values.svg}`);
}

/** The package in this process. */
async function nodeEngine() {
  const { Tamis } = await import('tamis');
  const tamis = await Tamis.load(bundleFiles());
  const classifier = await tamis.classifier(policy);
  return {
    name: `Node ${process.version}`,
    classifyEach: async (batch) => {
      for (const text of batch) await classifier.classify([text]);
    },
    edit: (operation) => classifier.edit(operation),
    wasmBytes: () => tamis.memoryBytes(),
    rssBytes: () => process.memoryUsage().rss,
    close: () => tamis.dispose(),
  };
}

/** The package on a page of headless Chromium, served from localhost like the browser tests. */
async function chromiumEngine() {
  const { chromium } = await import('playwright-core');
  const { startServer } = await import('../tests/support/serve.mjs');
  const { launchOptions } = await import('../tests/browser/chromium.mjs');
  const { server, origin } = await startServer({
    routes: { '/dist/': 'dist/', '/models/': 'models/' },
    generated: { '/soak.html': '<!doctype html><meta charset="utf-8"><title>tamis soak</title>' },
  });
  const browserServer = await chromium.launchServer(launchOptions);
  const browser = await chromium.connect(browserServer.wsEndpoint());
  const page = await browser.newPage();
  await page.goto(`${origin}/soak.html`);
  await page.evaluate(async (policy) => {
    const { Tamis } = await import('/dist/index.js');
    const bundle = '/models/minilm-l6-int8/';
    window.tamis = await Tamis.load({ manifest: `${bundle}manifest.json`, model: `${bundle}model.onnx`, tokenizer: `${bundle}tokenizer.json` });
    window.classifier = await window.tamis.classifier(policy);
  }, policy);
  const version = browser.version();
  return {
    name: `Chromium ${version}`,
    classifyEach: (batch) => page.evaluate(async (batch) => {
      for (const text of batch) await window.classifier.classify([text]);
    }, batch),
    edit: (operation) => page.evaluate((operation) => window.classifier.edit(operation), operation),
    wasmBytes: () => page.evaluate(() => window.tamis.memoryBytes()),
    rssBytes: () => treeRss(browserServer.process().pid),
    close: async () => {
      await browser.close();
      await browserServer.close();
      server.close();
    },
  };
}

/** Resident memory of a process and all its descendants, in bytes. */
function treeRss(rootPid) {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' })
    .trim().split('\n').map((line) => line.trim().split(/\s+/).map(Number));
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of table) {
      if (tree.has(ppid) && !tree.has(pid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return table.filter(([pid]) => tree.has(pid)).reduce((sum, [, , rss]) => sum + rss * 1024, 0);
}
