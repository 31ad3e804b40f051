// The priors of the models tamis ships, outside the wasm module: the package carries them in
// dist/priors/ (the same bytes as crates/tamis-model/priors/, which the CLI builds in), and a
// load fetches those of its model, found by the sha256 of its model file, whether the model is
// named or given as files; `priors` gives others or none; bytes that are no priors, or priors
// of another model, are `invalid_priors`. The verdicts with them are the native CLI's
// (package.test.mjs compares them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tamis } from 'tamis';
import { TamisWorker } from 'tamis/client';
import { SHIPPED_PRIORS } from '../../dist/priors.js';
import { serve } from '../../dist/serve.js';
import { BUNDLE_DIR, bundleFiles } from '../support/bundle.mjs';
import { assertCode } from '../support/assert-code.mjs';

const root = new URL('../../', import.meta.url);
const committed = new URL('crates/tamis-model/priors/', root);
const priorsFile = (name) => readFileSync(new URL(name, committed));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const modelsDir = relative(process.cwd(), fileURLToPath(new URL('..', BUNDLE_DIR)));
const policy = readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8');
const SPAM = 'Congratulations!!! You have been selected for a FREE cruise. Reply YES to claim your prize now.';

/** The model sha256 a `.priors` file names in its header (magic, u32 length, JSON). */
function fittedFor(bytes) {
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'TAMISPR1');
  const length = bytes.readUInt32LE(8);
  return JSON.parse(bytes.subarray(12, 12 + length).toString('utf8')).model_sha256;
}

test("the package's table names every committed priors file, by its model's sha256, and dist/ ships them", () => {
  const names = readdirSync(committed).filter((name) => name.endsWith('.priors')).sort();
  assert.deepEqual(Object.values(SHIPPED_PRIORS).map((entry) => entry.file).sort(), names);
  for (const name of names) {
    const bytes = priorsFile(name);
    const entry = SHIPPED_PRIORS[fittedFor(bytes)];
    assert.equal(entry?.file, name, `js/src/priors.ts: ${name} under the sha256 of the model it was fitted for`);
    assert.equal(entry.sha256, sha256(bytes), `js/src/priors.ts: the sha256 of ${name} (refitted? update the table)`);
    assert.ok(readFileSync(entry.location()).equals(bytes), `dist/priors/${name} is the committed file`);
  }
});

test('a model by name gets the priors of its model file, with progress for them', async () => {
  const events = [];
  const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: modelsDir, onProgress: (event) => events.push(event) });
  assert.equal(tamis.hasPriors, true);
  const priors = events.filter((event) => event.file === 'priors');
  const size = priorsFile('minilm-l6-int8.priors').length;
  assert.equal(priors[0].status, 'initiate');
  assert.ok(priors[0].url.endsWith('/dist/priors/minilm-l6-int8.priors'), priors[0].url);
  assert.deepEqual(priors.at(-1), { ...priors.at(-1), status: 'done', loaded: size, total: size });
  await tamis.dispose();
});

test('files given (bytes here) get the priors tamis ships for their model sha256; priors: false, none', async () => {
  const given = await Tamis.load(bundleFiles());
  assert.equal(given.hasPriors, true);
  const without = await Tamis.load({ ...bundleFiles(), priors: false });
  assert.equal(without.hasPriors, false);
  // The standard categories still classify, from the policy's examples and definitions.
  const [withPriors] = await (await given.classifier(policy)).classify([SPAM]);
  const [withoutPriors] = await (await without.classifier(policy)).classify([SPAM]);
  assert.equal(withoutPriors.scores.length, withPriors.scores.length);
  assert.notDeepEqual(withoutPriors.scores, withPriors.scores, 'the priors weigh in the scores');
  await Promise.all([given.dispose(), without.dispose()]);
});

test('priors given as a path or bytes are used; priors of another model or no priors at all are invalid_priors', async () => {
  const byPath = await Tamis.load({ ...bundleFiles(), priors: fileURLToPath(new URL('minilm-l6-int8.priors', committed)) });
  assert.equal(byPath.hasPriors, true);
  await byPath.dispose();
  const own = priorsFile('minilm-l6-int8.priors');
  await assertCode(
    () => Tamis.load({ ...bundleFiles(), priors: priorsFile('e5-small-q4.priors') }),
    'invalid_priors',
    'the priors given for minilm-l6-int8 cannot be used',
    'fitted for model 1571fc98',
  );
  await assertCode(() => Tamis.load({ ...bundleFiles(), priors: Buffer.from('not priors') }), 'invalid_priors', 'not a tamis priors file');
  await assertCode(() => Tamis.load({ ...bundleFiles(), priors: own.subarray(0, own.length - 7) }), 'invalid_priors', 'file ends early');
  await assertCode(() => Tamis.load({ ...bundleFiles(), priors: 'no/such.priors' }), 'model_missing', 'no/such.priors');
  await assertCode(() => Tamis.load({ ...bundleFiles(), priors: 42 }), 'invalid_argument', 'options.priors is');
});

test('through the worker client: the shipped priors by default, none with priors: false', async () => {
  for (const [priors, expected] of [[undefined, true], [false, false]]) {
    const { port1, port2 } = new MessageChannel();
    serve(port2);
    port1.start();
    const worker = await TamisWorker.load(port1, { model: 'minilm-l6-int8', baseUrl: modelsDir, priors });
    assert.equal(worker.hasPriors, expected, `priors: ${priors}`);
    await worker.dispose();
    port1.close();
  }
});

