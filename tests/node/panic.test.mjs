// A Rust panic reaches JavaScript as a trap (`WebAssembly.RuntimeError: unreachable`). The
// wrapper must turn it into a coded error and refuse further calls instead of running on
// memory the trap may have left inconsistent. Its own file: node --test runs each file in a
// process of its own, and this test breaks the module on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tamis, TamisError, guard } from 'tamis';

const bundle = new URL('../../models/minilm-l6-int8/', import.meta.url);
const read = (name) => readFileSync(new URL(name, bundle));

test('a trap becomes internal_error, then every call says instance_broken', async () => {
  const tamis = await Tamis.load({ manifest: read('manifest.json'), model: read('model.onnx'), tokenizer: read('tokenizer.json') });
  assert.equal((await tamis.embed(['before'])).length, 1);
  assert.throws(
    () => guard(() => { throw new WebAssembly.RuntimeError('unreachable'); }),
    (error) => error instanceof TamisError && error.code === 'internal_error' && /load it again/.test(error.message),
  );
  await assert.rejects(tamis.embed(['after']), (error) => error.code === 'instance_broken');
});
