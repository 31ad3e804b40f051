// The two architectures as the package sees them before any model runs: its file-name table is
// Rust's (the wasm module says), and files that do not fit the manifest's architecture, an
// unknown architecture and a manifest without the files its architecture needs are refused
// with a code and a message that says what to pass. None of these loads reaches the encoder, so
// they pass with or without the xlm-roberta encoder in the wasm module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ARCHITECTURE_FILES, Tamis } from 'tamis';
import { TamisWorker } from 'tamis/client';
import initWasm, { bundleFileNames } from '../../dist/wasm/tamis_wasm.js';
import { serve } from '../../dist/serve.js';
import { BUNDLE_DIR, E5_DIR } from '../support/bundle.mjs';
import { assertCode } from '../support/assert-code.mjs';

const minilm = (file) => fileURLToPath(new URL(file, BUNDLE_DIR));
const e5 = (file) => fileURLToPath(new URL(file, E5_DIR));
const e5Manifest = () => JSON.parse(readFileSync(e5('manifest.json'), 'utf8'));
const asBytes = (manifest) => new TextEncoder().encode(JSON.stringify(manifest));

test("the file-name table of each architecture is Rust's", async () => {
  await initWasm({ module_or_path: readFileSync(new URL('../../dist/wasm/tamis_wasm_bg.wasm', import.meta.url)) });
  for (const [architecture, files] of Object.entries(ARCHITECTURE_FILES)) {
    assert.deepEqual({ ...files }, bundleFileNames(architecture), architecture);
  }
  // Rust's refusal lists every architecture it knows: the table's keys, in order.
  assert.throws(
    () => bundleFileNames('gpt'),
    (error) => error.code === 'invalid_argument' && error.message.endsWith(`tamis knows ${Object.keys(ARCHITECTURE_FILES).join(', ')}`),
  );
  assert.deepEqual(ARCHITECTURE_FILES['xlm-roberta'], { model: 'model.e5s', tokenizer: null });
});

test('files given that do not fit the architecture say what to pass', async () => {
  await assertCode(
    () => Tamis.load({ manifest: e5('manifest.json'), model: e5('model.e5s'), tokenizer: minilm('tokenizer.json') }),
    'invalid_argument',
    'the manifest of e5-small-q4 says architecture xlm-roberta',
    'its tokenizer is inside model.e5s, leave options.tokenizer out ({ manifest, model })',
  );
  await assertCode(
    () => Tamis.load({ manifest: minilm('manifest.json'), model: minilm('model.onnx') }),
    'invalid_argument',
    'the manifest of minilm-l6-int8 says architecture bert',
    'pass its tokenizer.json as options.tokenizer ({ manifest, model, tokenizer })',
  );
  await assertCode(
    () => Tamis.load({ manifest: e5('manifest.json'), model: minilm('model.onnx') }),
    'invalid_argument',
    'options.model names model.onnx, pass its model.e5s',
  );
  // Bytes have no name: their sha256 tells.
  await assertCode(
    () => Tamis.load({ manifest: readFileSync(e5('manifest.json')), model: readFileSync(minilm('tokenizer.json')) }),
    'checksum_mismatch',
    'the model bytes given has sha256',
  );
});

test('an unknown architecture names the known ones; a missing file entry names the file', async () => {
  await assertCode(
    () => Tamis.load({ manifest: asBytes({ ...e5Manifest(), architecture: 'gpt' }), model: e5('model.e5s') }),
    'invalid_manifest',
    'the manifest from the manifest bytes given names the architecture "gpt"; this version of tamis knows bert, xlm-roberta',
  );
  const withoutModel = { ...e5Manifest(), files: { 'model.onnx': e5Manifest().files['model.e5s'] } };
  await assertCode(
    () => Tamis.load({ manifest: asBytes(withoutModel), model: e5('model.e5s') }),
    'invalid_manifest',
    'has no files["model.e5s"].sha256, which a bundle of architecture xlm-roberta needs',
  );
  // A manifest without `architecture` is BERT's, and needs BERT's two files.
  const { architecture, ...unnamed } = e5Manifest();
  assert.equal(architecture, 'xlm-roberta');
  await assertCode(
    () => Tamis.load({ manifest: asBytes(unnamed), model: e5('model.e5s') }),
    'invalid_manifest',
    'has no files["model.onnx"].sha256, which a bundle of architecture bert needs',
  );
});

test('through the worker client: the same refusals, with their codes', async () => {
  const { port1, port2 } = new MessageChannel();
  serve(port2);
  port1.start();
  await assertCode(
    () => TamisWorker.load(port1, { manifest: e5('manifest.json'), model: e5('model.e5s'), tokenizer: minilm('tokenizer.json') }),
    'invalid_argument',
    'leave options.tokenizer out',
  );
  await assertCode(
    () => TamisWorker.load(port1, { model: 'e5-small-q4', tokenizer: minilm('tokenizer.json') }),
    'invalid_argument',
    'options.manifest is undefined',
  );
  port1.close();
});
