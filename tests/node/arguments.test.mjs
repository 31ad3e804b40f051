// Wrong argument types, on the page's thread and through the worker client: each is an
// `invalid_argument` naming the public method (never a verdict per character, never
// `internal_error`, which means a bug in tamis), and the instance stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tamis, TamisError, fuseLists } from 'tamis';
import { TamisWorker } from 'tamis/client';
import { serve } from '../../dist/serve.js';
import { BUNDLE_DIR, bundleFiles } from '../support/bundle.mjs';

const policy = JSON.parse(readFileSync(new URL('../../crates/tamis-cli/samples/policy.json', import.meta.url), 'utf8'));
const spam = 'WINNER!! Claim your FREE prize now, reply YES';

/** A worker client whose worker is a MessagePort served on this thread, as `tamis/worker` does. */
async function workerClient() {
  const { port1, port2 } = new MessageChannel();
  serve(port2);
  port1.start();
  const tamis = await TamisWorker.load(port1, { model: 'minilm-l6-int8', baseUrl: new URL('..', BUNDLE_DIR) });
  return { tamis, close: () => port1.close() };
}

async function assertInvalid(action, message) {
  await assert.rejects(action, (error) => {
    assert.ok(error instanceof TamisError, String(error));
    assert.equal(error.code, 'invalid_argument', error.message);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /Model\.|PolicyClassifier|embedPending|wasm_bindgen/, 'no internal names');
    return true;
  });
}

/** Every wrong call, against the same API on the page and through a worker. */
async function checkWrongArguments(tamis) {
  const classifier = await tamis.classifier(policy);
  await assertInvalid(() => classifier.classify('FREE-PRIZE'), /classifier\.classify\(texts\): got a string; pass an array of texts/);
  await assertInvalid(() => classifier.classify(), /classifier\.classify\(texts\): got undefined; pass an array of texts/);
  await assertInvalid(() => classifier.classify([42]), /texts\[0\] is a number, not a string/);
  await assertInvalid(() => classifier.classify(['fine', null]), /texts\[1\] is null, not a string/);
  await assertInvalid(() => tamis.embed('hello'), /tamis\.embed\(texts\): got a string; pass an array of texts/);
  await assertInvalid(() => tamis.embed([{ text: 'hello' }]), /texts\[0\] is an object/);
  await assertInvalid(() => tamis.classifier(42), /tamis\.classifier\(policy\): got a number/);
  const circular = structuredClone(policy);
  circular.self = circular;
  await assertInvalid(() => tamis.classifier(circular), /cannot be written as JSON/);
  await assertInvalid(() => classifier.edit('unblock spam'), /classifier\.edit\(edit\): got a string; pass an object/);
  await assertInvalid(() => classifier.edit({ op: 'unblock' }), /not a policy edit/);
  await assertInvalid(() => tamis.fuse('rrf'), /tamis\.fuse\(request\): got a string; pass an object/);
  await assertInvalid(() => tamis.fuse([{ name: 'a', items: [] }]), /tamis\.fuse\(request\): got an array/);
  await assertInvalid(() => tamis.fuse({ lists: 'a,b' }), /not a fusion request/);

  const [verdict] = await classifier.classify([spam]);
  assert.equal(verdict.action, 'hide', 'still usable after every refusal');
  assert.equal((await tamis.embed(['one text'])).length, 1);
}

test('wrong argument types on the page thread are invalid_argument naming the method', async () => {
  const tamis = await Tamis.load(bundleFiles());
  await checkWrongArguments(tamis);
  await assertInvalid(() => fuseLists('rrf'), /fuseLists\(request\): got a string/);
  await tamis.dispose();
});

test('wrong argument types through the worker client are invalid_argument naming the method', async () => {
  const { tamis, close } = await workerClient();
  await checkWrongArguments(tamis);
  // What postMessage cannot clone is refused here, not lost in the worker.
  await assertInvalid(() => tamis.fuse({ lists: [{ name: 'a', items: [{ id: 'x' }] }], ranker: () => 1 }), /tamis\.fuse\(request\): the arguments cannot be sent to the worker/);
  await tamis.dispose();
  close();
});

test('load options of the wrong shape are invalid_argument', async () => {
  await assertInvalid(() => Tamis.load('models/minilm-l6-int8'), /Tamis\.load\(options\): got a string; pass an object, e\.g\. \{ model: 'minilm-l6-int8' \}/);
  await assertInvalid(() => Tamis.load(), /Tamis\.load\(options\): got undefined/);
  await assertInvalid(() => Tamis.load({}), /options\.model is undefined; pass a model name/);
  await assertInvalid(() => Tamis.load({ model: '../secrets' }), /options\.model is "\.\.\/secrets"; pass a model name/);
  await assertInvalid(() => Tamis.load({ ...bundleFiles(), tokenizer: 42 }), /options\.tokenizer is a number; pass bytes/);
  await assertInvalid(() => Tamis.load({ ...bundleFiles(), signal: 'stop' }), /options\.signal is a string, not an AbortSignal/);
  await assertInvalid(() => Tamis.load({ ...bundleFiles(), backend: 'webgpu' }), /unknown backend "webgpu": use auto, cpu or gpu/);
});

test('content-aware fusion without a model names the public method to use', async () => {
  const request = { query: 'tides', lists: [{ name: 'a', items: [{ id: '1', text: 'high tide at six' }] }] };
  await assert.rejects(fuseLists(request), (error) => {
    assert.equal(error.code, 'model_required');
    assert.match(error.message, /tamis\.fuse\(request\)/);
    assert.doesNotMatch(error.message, /Model\.fuse/);
    return true;
  });
});
