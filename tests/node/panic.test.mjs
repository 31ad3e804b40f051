// A Rust panic reaches JavaScript as a trap (`WebAssembly.RuntimeError: unreachable`). The
// wrapper must turn it into a coded error and refuse further calls instead of running on
// memory the trap may have left inconsistent. Its own file: node --test runs each file in a
// process of its own, and this test breaks the module on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tamis, TamisError, guard } from 'tamis';
import { bundleFiles } from '../support/bundle.mjs';


test('a trap becomes internal_error, then every call says instance_broken', async () => {
  const tamis = await Tamis.load(bundleFiles());
  assert.equal((await tamis.embed(['before'])).length, 1);
  assert.throws(
    () => guard(() => { throw new WebAssembly.RuntimeError('unreachable'); }),
    (error) => error instanceof TamisError && error.code === 'internal_error' && /load it again/.test(error.message),
  );
  await assert.rejects(tamis.embed(['after']), (error) => error.code === 'instance_broken');
});
