// The native CLI beside the npm package: what the Node and browser tests compare wasm with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** The `tamis` binary: $TAMIS_BIN (the test command sets it), else the debug build. */
export const nativeBinary = process.env.TAMIS_BIN ?? new URL('../../target/debug/tamis', import.meta.url).pathname;

/** Asserts that wasm's embeddings of `texts` are, bit for bit, the native CLI's on the CPU. */
export function assertNativeBits(modelDir, texts, wasmEmbeddings) {
  const native = execFileSync(nativeBinary, ['--model', modelDir, 'embed', '--backend', 'cpu'], {
    input: `${texts.join('\n')}\n`,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).vector);
  assert.equal(wasmEmbeddings.length, native.length);
  wasmEmbeddings.forEach((embedding, i) => {
    // The CLI prints each f32 in its shortest form, which parses back to the same f32.
    embedding.vector.forEach((value, k) => assert.equal(value, Math.fround(native[i][k]), `text ${i}, value ${k}`));
  });
}
