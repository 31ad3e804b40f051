// The priors of the models tamis ships, outside the wasm module: the package carries them in
// dist/priors/ (the same bytes as crates/tamis-model/priors/, which the CLI builds in), and a
// load fetches those of its model, found by the sha256 of its model file, whether the model is
// named or given as files; `priors` gives others or none; bytes that are no priors, or priors
// of another model, are `invalid_priors`. The verdicts with them are the native CLI's
// (package.test.mjs compares them). scripts/build-js.mjs writes the table of shipped priors from
// the committed files; a package deployed without them fails its loads, saying how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Tamis } from 'tamis';
import { TamisWorker } from 'tamis/client';
import { SHIPPED_PRIORS } from '../../dist/shipped-priors.js';
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
  const models = JSON.parse(readFileSync(new URL('models.json', root), 'utf8')).models;
  const stale = 'the package was built before the priors changed: npm run build:js';
  for (const name of names) {
    const bytes = priorsFile(name);
    const model = fittedFor(bytes);
    const entry = SHIPPED_PRIORS[model];
    assert.equal(entry?.file, name, `${name} under the sha256 of the model it was fitted for (${stale})`);
    assert.equal(entry.sha256, sha256(bytes), `the sha256 of ${name} (${stale})`);
    assert.ok(readFileSync(entry.location()).equals(bytes), `dist/priors/${name} is the committed file`);
    const pinned = models.find((candidate) => `${candidate.manifest.id}.priors` === name);
    const modelFiles = pinned.sources.flatMap((source) => Object.values(source.files).map((file) => file.sha256));
    assert.ok(modelFiles.includes(model), `${name} was fitted for the model file models.json pins`);
  }
});

test('a package deployed without its priors fails the load, naming the file and the ways out', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'tamis-no-priors-'));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  const dist = fileURLToPath(new URL('dist/', root));
  cpSync(dist, copy, { recursive: true, filter: (source) => !source.startsWith(join(dist, 'priors') + sep) });
  const { Tamis: Copied } = await import(pathToFileURL(join(copy, 'node.js')).href);
  const missing = join(copy, 'priors', 'minilm-l6-int8.priors');
  await assert.rejects(
    () => Copied.load({ model: 'minilm-l6-int8', baseUrl: modelsDir }),
    (error) => {
      assert.equal(error.name, 'TamisError');
      assert.equal(error.code, 'model_missing', error.message);
      for (const says of [
        'the priors tamis ships for this model (minilm-l6-int8.priors) could not be loaded',
        missing,
        "Deploy the package's priors/ folder",
        'options.priors',
        'priors: false',
      ]) {
        assert.ok(error.message.includes(says), `"${error.message}" says ${says}`);
      }
      // `models fetch` writes a model's files, not the package's priors: no such hint here.
      assert.ok(!error.message.includes('models fetch'), `"${error.message}" points at models fetch`);
      return true;
    },
  );
  const without = await Copied.load({ model: 'minilm-l6-int8', baseUrl: modelsDir, priors: false });
  assert.equal(without.hasPriors, false);
  await without.dispose();
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

