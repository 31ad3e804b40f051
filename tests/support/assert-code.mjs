// The one check of a tamis error in the Node tests: the code from the shared vocabulary, and
// what its message must say.
import assert from 'node:assert/strict';

import { TamisError } from 'tamis';

/**
 * Awaits `action`, which must reject with a TamisError of this `code` whose message contains
 * each string of `messages` and matches each RegExp.
 */
export async function assertCode(action, code, ...messages) {
  await assert.rejects(action, (error) => {
    assert.ok(error instanceof TamisError, `a TamisError, got ${error}`);
    assert.equal(error.code, code, error.message);
    for (const message of messages) {
      if (message instanceof RegExp) assert.match(error.message, message);
      else assert.ok(error.message.includes(message), `"${error.message}" says ${message}`);
    }
    return true;
  });
}
