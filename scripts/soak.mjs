// Soak: many classify calls through the package's wasm API in Node under a 200-example
// policy, with an edit every 1,000 calls; prints wasm memory and process RSS as it goes.
//
//   npm run build && node scripts/soak.mjs [--calls 100000] [--every 1000]
//
// Memory should stay flat after warm-up: the classifier's feature cache follows the policy
// and wasm memory is reused.
import { parseArgs } from 'node:util';
import { Tamis } from 'tamis';
import { readCsv } from './csv.mjs';
import { bundleFiles } from './bundle.mjs';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '100000' }, every: { type: 'string', default: '1000' } } });
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
const spares = train('spam', 'spam', 80).slice(70);
const texts = readCsv(data('sst2/validation.csv'), 500).map((row) => row.text);

const tamis = await Tamis.load(bundleFiles());
const classifier = await tamis.classifier({ version: 1, mode: 'multilabel', categories: categories.map((c) => ({ ...c, examples: [...new Set(c.examples)] })) });

const mb = (bytes) => (bytes / 2 ** 20).toFixed(0);
console.log('| calls | wasm memory (MiB) | RSS (MiB) | ms per call |');
console.log('|---:|---:|---:|---:|');
let started = performance.now();
for (let call = 1; call <= calls; call++) {
  await classifier.classify([texts[call % texts.length]]);
  if (call % every === 0) {
    // Alternately add and remove a spare example: the policy and its cache change, then return.
    const spare = spares[(call / every) % spares.length];
    const op = (call / every) % 2 === 1 ? 'add_example' : 'remove_example';
    const previous = spares[((call / every) - 1) % spares.length];
    await classifier.edit({ op, category: 'spam', text: op === 'add_example' ? spare : previous });
    const elapsed = (performance.now() - started) / every;
    console.log(`| ${call} | ${mb(await tamis.memoryBytes())} | ${mb(process.memoryUsage().rss)} | ${elapsed.toFixed(1)} |`);
    started = performance.now();
  }
}
await tamis.dispose();
