// The wasm module under Node on the real model bundle: load, embed, classify, edit, errors.
// Run by scripts/test.sh after scripts/build-wasm.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const require = createRequire(import.meta.url);
const { Model, PolicyClassifier, fuse } = require('../../js/wasm/node/tamis_wasm.js');

const bundle = new URL('../../models/minilm-l6-int8/', import.meta.url);
const read = (name) => readFileSync(new URL(name, bundle));
const samplePolicy = readFileSync(
  new URL('../../crates/tamis-cli/samples/policy.json', import.meta.url),
  'utf8',
);

const model = new Model(read('manifest.json'), read('model.onnx'), read('tokenizer.json'));

/** Runs `action`, which must throw an Error with this `code`. */
function assertCode(action, code) {
  assert.throws(action, (error) => {
    assert.ok(error instanceof Error, 'a JS Error');
    assert.equal(error.code, code, error.message);
    return true;
  });
}

test('loads the bundle and reports the backend that runs', () => {
  assert.equal(model.backend, 'wasm');
  assert.equal(model.dimension, 384);
  assert.equal(model.hasPriors, true);
});

test('embeds texts as unit vectors, same text alone or in a batch', () => {
  const [alone] = model.embed(['a quiet evening by the sea']);
  const batch = model.embed(['something much longer to force padding in this batch', 'a quiet evening by the sea']);
  const norm = Math.hypot(...alone.vector);
  assert.ok(Math.abs(norm - 1) < 1e-5);
  const cosine = alone.vector.reduce((sum, x, i) => sum + x * batch[1].vector[i], 0);
  assert.ok(cosine > 0.99999, `cosine ${cosine}`);
});

test('classifies under a policy, with actions and reasons, and edits it', () => {
  const classifier = new PolicyClassifier(model, samplePolicy);
  const [spam, calm] = classifier.classify(model, [
    'Congratulations!!! You have been selected for a FREE cruise. Reply YES to claim your prize now.',
    'Our library now lends out telescopes for stargazing nights.',
  ]);
  assert.equal(spam.action, 'hide');
  assert.deepEqual(spam.labels, ['spam']);
  assert.equal(spam.reason.kind, 'example');
  assert.equal(calm.action, null);
  assert.equal(calm.harmful, false);

  classifier.edit({ op: 'unblock', category: 'spam' });
  const [after] = classifier.classify(model, ['Claim your FREE cruise prize now, reply YES']);
  assert.equal(after.harmful, false);
  assert.equal(JSON.parse(classifier.policyJson()).categories[0].blocked, false);
});

test('errors carry a code and leave the state as it was', () => {
  const classifier = new PolicyClassifier(model, samplePolicy);
  const before = classifier.policyJson();
  assertCode(() => classifier.edit({ op: 'add_example', category: 'weather', text: 'rain' }), 'unknown_category');
  assertCode(() => classifier.edit({ op: 'explode' }), 'invalid_argument');
  assertCode(() => classifier.classify(model, ['fine', '   ']), 'empty_text');
  assert.equal(classifier.policyJson(), before);
  assert.equal(classifier.classify(model, ['still usable'])[0].scores.length, 4);

  assertCode(() => new PolicyClassifier(model, '{"version": 1, "mode": "binary", "categories": []}'), 'invalid_policy');
  assertCode(() => new PolicyClassifier(model, 'not json'), 'invalid_policy');

  const corrupt = Buffer.from(read('model.onnx'));
  corrupt[1000] ^= 0xff;
  assertCode(() => new Model(read('manifest.json'), corrupt, read('tokenizer.json')), 'checksum_mismatch');
  assertCode(() => new Model(Buffer.from('{}'), read('model.onnx'), read('tokenizer.json')), 'invalid_manifest');
});

test('wasm and native give the same verdicts (scores to 1e-5)', () => {
  const binary = process.env.TAMIS_BIN ?? new URL('../../target/debug/tamis', import.meta.url).pathname;
  const native = execFileSync(binary, ['--model', new URL(bundle).pathname, 'classify', '--output', 'json'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).verdict);
  const posts = readFileSync(new URL('../../crates/tamis-cli/samples/posts.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0);
  const wasm = new PolicyClassifier(model, samplePolicy).classify(model, posts);
  assert.equal(wasm.length, native.length);
  wasm.forEach((verdict, i) => {
    assert.deepEqual(verdict.labels, native[i].labels);
    assert.equal(verdict.action, native[i].action);
    verdict.scores.forEach((score, j) => {
      assert.ok(Math.abs(score.score - native[i].scores[j].score) <= 1e-5, `post ${i}, ${score.category}`);
    });
  });
});

test('fuses ranked lists and refuses bad ones with a code', () => {
  const lists = [
    { name: 'bm25', items: [{ id: 'a', score: 3 }, { id: 'b', score: 2 }, { id: 'c', score: 1 }] },
    { name: 'dense', weight: 2, items: [{ id: 'b', score: 0.9 }, { id: 'd', score: 0.5 }] },
  ];
  const fused = fuse(lists, 'rrf', 'none');
  assert.deepEqual(fused.map((item) => item.id), ['b', 'a', 'd', 'c']);
  assert.deepEqual(fused[0].evidence, { positions: [2, 1], agreement: 2 });
  const duplicate = [{ name: 'x', items: [{ id: 'a', score: 1 }, { id: 'a', score: 0.5 }] }];
  assertCode(() => fuse(duplicate, 'rrf', 'none'), 'invalid_lists');
  assertCode(() => fuse(lists, 'magic', 'none'), 'invalid_argument');
  assertCode(() => fuse([{ name: 'x' }], 'rrf', 'none'), 'invalid_argument');
});
