// The bad-input table of the README, one test per row that is not already covered in
// package.test.mjs: each input gives a coded error or a documented result, and the instance
// stays usable afterwards.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Tamis } from 'tamis';
import { bundleFile as read, bundleFiles as files } from '../support/bundle.mjs';
import { assertCode } from '../support/assert-code.mjs';

const root = new URL('../../', import.meta.url);
const samplePolicy = JSON.parse(readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8'));
const tamis = await Tamis.load(files());
const classifier = await tamis.classifier(samplePolicy);

afterEach(async () => {
  const [verdict] = await classifier.classify(['WINNER!! Claim your FREE prize now, reply YES']);
  assert.equal(verdict.action, 'hide', 'the instance is still usable');
});

/** A manifest vouching for `bytes` as `name`, so that only the content can be wrong. */
function vouching(name, bytes) {
  const manifest = JSON.parse(read('manifest.json'));
  manifest.files[name].sha256 = createHash('sha256').update(bytes).digest('hex');
  return Buffer.from(JSON.stringify(manifest));
}

/** The smallest valid ONNX model, `y = Identity(x)`, hand-encoded as protobuf. */
function identityOnnx() {
  const varint = (n) => { const out = []; do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7; } while (n > 0); return out; };
  const field = (number, bytes) => [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
  const text = (number, s) => field(number, [...Buffer.from(s)]);
  const int = (number, n) => [...varint(number << 3), ...varint(n)];
  const tensorType = field(1, [...int(1, 1), ...field(2, field(1, int(1, 4)))]);
  const valueInfo = (name) => [...text(1, name), ...field(2, tensorType)];
  const graph = [...field(1, [...text(1, 'x'), ...text(2, 'y'), ...text(4, 'Identity')]), ...text(2, 'g'),
    ...field(11, valueInfo('x')), ...field(12, valueInfo('y'))];
  return Buffer.from([...int(1, 8), ...field(7, graph), ...field(8, int(2, 13))]);
}

test('a 1 MB text is classified from its start and flagged truncated', async () => {
  const [verdict] = await classifier.classify(['word '.repeat(200_000)]);
  assert.equal(verdict.truncated, true);
});

test('lone surrogates from JS arrive as U+FFFD and are classified', async () => {
  const [broken, replaced] = await tamis.embed(['\uD800 hello \uDFFF', '\uFFFD hello \uFFFD']);
  assert.deepEqual(broken.vector, replaced.vector);
  assert.equal((await classifier.classify(['\uD800 win a prize \uDC00'])).length, 1);
});

test('only emoji is classified; only whitespace is an empty text', async () => {
  const [emoji] = await classifier.classify(['🎉🎉🔥💯']);
  assert.equal(emoji.scores.length, 4);
  await assertCode(() => classifier.classify([' \n\t\u00a0 ']), 'empty_text', /text 0 is empty/);
});

test('right-to-left and mixed scripts are classified', async () => {
  const verdicts = await classifier.classify(['مرحبا بالعالم', 'שלום עולם hello Привет 你好', '\u202Eniw uoy\u202C']);
  assert.equal(verdicts.length, 3);
});

test('HTML with scripts is text: classified, never run', async () => {
  globalThis.tamisRan = false;
  const [verdict] = await classifier.classify(['<script>globalThis.tamisRan = true</script><img src=x onerror="alert(1)">WIN a FREE prize']);
  assert.equal(globalThis.tamisRan, false);
  assert.ok(verdict.scores.every((s) => s.score >= 0 && s.score <= 1));
});

test('a policy with 10,000 examples is refused: at most 2,000 texts', async () => {
  const huge = structuredClone(samplePolicy);
  huge.categories[0].examples = Array.from({ length: 10_000 }, (_, i) => `offer ${i}`);
  await assertCode(() => tamis.classifier(huge), 'invalid_policy', /at most 4000/);
});

test('duplicate categories are refused; the same example in two categories is allowed', async () => {
  const duplicate = structuredClone(samplePolicy);
  duplicate.categories.push({ ...duplicate.categories[0], name: 'SPAM' });
  await assertCode(() => tamis.classifier(duplicate), 'invalid_policy', /appears twice/);
  const conflicting = structuredClone(samplePolicy);
  conflicting.categories[1].examples.push(conflicting.categories[0].examples[0]);
  const both = await tamis.classifier(conflicting);
  const [verdict] = await both.classify([conflicting.categories[0].examples[0]]);
  assert.ok(verdict.scores.length === 4);
  await both.dispose();
});

test('an unknown policy version is refused', async () => {
  await assertCode(() => tamis.classifier({ ...samplePolicy, version: 2 }), 'invalid_policy', /version 1, not 2/);
});

test('infinite scores are refused, negative scores fuse', async () => {
  const list = (score) => [{ name: 'a', items: [{ id: 'x', score }, { id: 'y', score: -5 }] }];
  await assertCode(() => tamis.fuse({ lists: list(Infinity) }), 'invalid_lists', /finite/);
  await assertCode(() => tamis.fuse({ lists: list(-Infinity) }), 'invalid_lists', /finite/);
  const fused = await tamis.fuse({ lists: list(-1), method: 'sum' });
  assert.deepEqual(fused.map((c) => c.id), ['x', 'y']);
});

test('100,000 candidates fuse', async () => {
  const items = (offset) => Array.from({ length: 100_000 }, (_, i) => ({ id: `d${(i + offset) % 100_000}`, score: 100_000 - i }));
  const fused = await tamis.fuse({ lists: [{ name: 'a', items: items(0) }, { name: 'b', items: items(7) }], method: 'rrf' });
  assert.equal(fused.length, 100_000);
});

test('truncated model bytes: checksum_mismatch, or invalid_model when the manifest vouches for them', async () => {
  const truncated = read('model.onnx').subarray(0, 1_000_000);
  await assertCode(() => Tamis.load({ ...files(), model: truncated }), 'checksum_mismatch');
  await assertCode(() => Tamis.load({ ...files(), model: truncated, manifest: vouching('model.onnx', truncated) }), 'invalid_model');
});

test('a model of another architecture is refused', async () => {
  const other = identityOnnx();
  await assertCode(() => Tamis.load({ ...files(), model: other, manifest: vouching('model.onnx', other) }), 'invalid_model');
});

test('a tokenizer for another vocabulary is refused', async () => {
  const tokenizer = Buffer.from(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0, hello: 1 }, unk_token: '[UNK]' },
  }));
  await assertCode(
    () => Tamis.load({ ...files(), tokenizer, manifest: vouching('tokenizer.json', tokenizer) }),
    'invalid_tokenizer',
    /vocabulary|2/,
  );
});
