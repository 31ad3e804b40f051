// The npm package under Node on the real model bundle: load, embed, classify, edit, fuse,
// dispose, parity with the native CLI and every error code a caller can meet.
// Run by scripts/test.sh after `npm run build`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Tamis, fuseLists } from 'tamis';
import { assertNativeBits, nativeBinary } from '../support/native.mjs';
import { BUNDLE_DIR as bundle, bundleFile as read, bundleFiles as bytes } from '../support/bundle.mjs';
import { assertCode } from '../support/assert-code.mjs';

const samplePolicy = JSON.parse(
  readFileSync(new URL('../../crates/tamis-cli/samples/policy.json', import.meta.url), 'utf8'),
);
const samplePosts = readFileSync(new URL('../../crates/tamis-cli/samples/posts.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.length > 0);

const progress = [];
const tamis = await Tamis.load({ ...bytes(), onProgress: (p) => progress.push(p) });

test('loads the bundle, reports progress and the backend that runs', async () => {
  assert.equal(tamis.backend, 'cpu');
  const diagnostics = await tamis.diagnostics();
  assert.equal(diagnostics.backend, 'cpu');
  assert.equal(diagnostics.adapter, null);
  assert.match(diagnostics.reason, /no WebGPU/, 'Node has no WebGPU: auto says so');
  assert.equal(tamis.dimension, 384);
  assert.equal(tamis.hasPriors, true);
  const model = progress.filter((p) => p.file === 'model');
  assert.equal(model.at(-1).loaded, read('model.onnx').length);
  assert.ok(progress.some((p) => p.file === 'wasm'));
});

test('embeds texts as unit vectors, same text alone or in a batch', async () => {
  const [alone] = await tamis.embed(['a quiet evening by the sea']);
  const batch = await tamis.embed(['something much longer to force padding in this batch', 'a quiet evening by the sea']);
  assert.ok(Math.abs(Math.hypot(...alone.vector) - 1) < 1e-5);
  const cosine = alone.vector.reduce((sum, x, i) => sum + x * batch[1].vector[i], 0);
  assert.ok(cosine > 0.99999, `cosine ${cosine}`);
});

test('classifies under a policy with actions and reasons; edits change verdicts', async () => {
  const classifier = await tamis.classifier(samplePolicy);
  const [spam, calm] = await classifier.classify([
    'Congratulations!!! You have been selected for a FREE cruise. Reply YES to claim your prize now.',
    'Our library now lends out telescopes for stargazing nights.',
  ]);
  assert.equal(spam.action, 'hide');
  assert.deepEqual(spam.labels, ['spam']);
  assert.equal(spam.reason.kind, 'example');
  assert.equal(calm.action, null);
  assert.equal(calm.harmful, false);

  await classifier.edit({ op: 'unblock', category: 'spam' });
  const [after] = await classifier.classify(['Claim your FREE cruise prize now, reply YES']);
  assert.equal(after.harmful, false);
  assert.equal((await classifier.policy()).categories[0].blocked, false);

  await classifier.edit({ op: 'add_category', category: { name: 'tides', examples: ['High tide at 6pm today', 'Low tide tables for the weekend'] } });
  const [tide] = await classifier.classify(['Tomorrow high tide is at 7:12, low tide at 13:30']);
  assert.ok(tide.labels.includes('tides'), JSON.stringify(tide.labels));
});

test('native and wasm give the same verdicts (scores to 1e-5)', async () => {
  const native = execFileSync(nativeBinary, ['--model', bundle.pathname, 'classify', '--output', 'json'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).verdict);
  const wasm = await (await tamis.classifier(samplePolicy)).classify(samplePosts);
  assert.equal(wasm.length, native.length);
  wasm.forEach((verdict, i) => {
    assert.deepEqual(verdict.labels, native[i].labels);
    assert.equal(verdict.action, native[i].action);
    verdict.scores.forEach((score, j) => {
      assert.ok(Math.abs(score.score - native[i].scores[j].score) <= 1e-5, `post ${i}, ${score.category}`);
    });
  });
});

test('native and wasm embeddings are the same bits', async () => {
  assertNativeBits(bundle.pathname, samplePosts, await tamis.embed(samplePosts));
});

const lists = [
  { name: 'bm25', items: [{ id: 'a', score: 3 }, { id: 'b', score: 2 }, { id: 'c', score: 1 }] },
  { name: 'dense', weight: 2, items: [{ id: 'b', score: 0.9 }, { id: 'd', score: 0.5 }] },
];

test('fuses ranked lists classically, with or without a model', async () => {
  for (const fused of [
    await fuseLists({ lists, method: 'rrf', normalization: 'none' }),
    await tamis.fuse({ lists, method: 'rrf', normalization: 'none' }),
  ]) {
    assert.deepEqual(fused.map((item) => item.id), ['b', 'a', 'd', 'c']);
    assert.deepEqual(fused[0].evidence, { positions: [2, 1], agreement: 2 });
    assert.equal(fused[0].content, null);
  }
});

test('content-aware fusion lifts what fits the query; preferences shift it; native agrees', async () => {
  const request = {
    query: 'when is high tide at the harbour',
    lists: [
      { name: 'timeline', items: [
        { id: 'p1', text: 'New bakery opening on Main Street this weekend' },
        { id: 'p2', text: 'Concert tickets on sale now' },
        { id: 'p3', text: 'High tide at the harbour today is at 18:40' },
      ] },
      { name: 'trending', items: [
        { id: 'p2', text: 'Concert tickets on sale now' },
        { id: 'p1', text: 'New bakery opening on Main Street this weekend' },
      ] },
    ],
  };
  const fused = await tamis.fuse(request);
  assert.equal(fused[0].id, 'p3');
  assert.equal(fused[0].evidence.agreement, 1);
  assert.ok(fused[0].content > fused[1].content);

  const native = JSON.parse(execFileSync(nativeBinary, ['--model', bundle.pathname, 'fuse', '--json'], {
    input: JSON.stringify(request),
    encoding: 'utf8',
  }));
  assert.deepEqual(native.map((c) => c.id), fused.map((c) => c.id));
  native.forEach((c, i) => assert.ok(Math.abs(c.score - fused[i].score) <= 1e-5, c.id));

  const { query: _, ...withoutQuery } = request;
  const music = await tamis.fuse({ ...withoutQuery, preferences: { liked: ['live music and gigs'], disliked: ['food and restaurants'] } });
  assert.equal(music[0].id, 'p2');
  await assertCode(() => fuseLists(request), 'model_required');
});

test('errors carry a code and leave the state as it was', async () => {
  const classifier = await tamis.classifier(JSON.stringify(samplePolicy));
  const before = await classifier.policy();
  await assertCode(() => classifier.edit({ op: 'add_example', category: 'weather', text: 'rain' }), 'unknown_category');
  await assertCode(() => classifier.edit({ op: 'remove_example', category: 'spam', text: 'never added' }), 'unknown_text');
  await assertCode(() => classifier.edit({ op: 'explode' }), 'invalid_argument');
  await assertCode(() => classifier.classify(['fine', '   ']), 'empty_text');
  await assertCode(() => classifier.classify(['x'.repeat((1 << 20) + 1)]), 'text_too_long');
  assert.deepEqual(await classifier.policy(), before);
  assert.equal((await classifier.classify(['still usable']))[0].scores.length, 4);

  await assertCode(() => tamis.classifier({ version: 1, mode: 'binary', categories: [] }), 'invalid_policy');
  await assertCode(() => tamis.classifier('not json'), 'invalid_policy');

  const duplicate = [{ name: 'x', items: [{ id: 'a', score: 1 }, { id: 'a', score: 0.5 }] }];
  await assertCode(() => tamis.fuse({ lists: duplicate }), 'invalid_lists');
  await assertCode(() => tamis.fuse({ lists: [{ name: 'x', items: [{ id: 'a', score: NaN }] }] }), 'invalid_lists');
  await assertCode(() => tamis.fuse({ lists, method: 'magic' }), 'invalid_argument');
  await assertCode(() => tamis.fuse({ lists: [{ name: 'x' }] }), 'invalid_argument');
  await assertCode(() => tamis.fuse({ lists: [{ name: 'x', items: [{ id: 'a', text: 'a' }] }], query: ' ' }), 'empty_text');
});

test('bad model files are refused with a code naming the problem', async () => {
  const corrupt = Buffer.from(read('model.onnx'));
  corrupt[1000] ^= 0xff;
  await assertCode(() => Tamis.load({ ...bytes(), model: corrupt }), 'checksum_mismatch');
  await assertCode(() => Tamis.load({ ...bytes(), manifest: Buffer.from('{}') }), 'invalid_manifest');
  await assertCode(() => Tamis.load({ ...bytes(), manifest: Buffer.from('not json') }), 'invalid_manifest');

  // Files whose checksums the manifest vouches for but that are not a model or a tokenizer.
  const manifest = JSON.parse(read('manifest.json'));
  const { createHash } = await import('node:crypto');
  const sha256 = (data) => createHash('sha256').update(data).digest('hex');
  const garbage = Buffer.from('this is not an ONNX model');
  const withFile = (name, data) => {
    const copy = structuredClone(manifest);
    copy.files[name].sha256 = sha256(data);
    return Buffer.from(JSON.stringify(copy));
  };
  await assertCode(() => Tamis.load({ ...bytes(), manifest: withFile('model.onnx', garbage), model: garbage }), 'invalid_model');
  await assertCode(
    () => Tamis.load({ ...bytes(), manifest: withFile('tokenizer.json', garbage), tokenizer: garbage }),
    'invalid_tokenizer',
  );
  await assertCode(() => Tamis.load({ ...bytes(), model: 'http://127.0.0.1:9/model.onnx' }), 'fetch_failed');
  await assertCode(() => Tamis.load({ ...bytes(), backend: 'gpu' }), 'backend_unavailable');
  await assertCode(() => Tamis.load({ ...bytes(), backend: 'cuda' }), 'invalid_argument');
});

test('dispose frees everything; a disposed object says so', async () => {
  const other = await Tamis.load(bytes());
  const classifier = await other.classifier(samplePolicy);
  await other.dispose();
  await assertCode(() => other.embed(['x']), 'disposed');
  await assertCode(() => classifier.classify(['x']), 'disposed');
  await other.dispose();
  assert.equal((await tamis.embed(['the first instance is untouched'])).length, 1);
});
