/**
 * tamis for Node 20+: the `.wasm` is read from the package. Model files can be given as bytes,
 * paths (relative to the working directory), `file:` URLs or `http(s):` URLs; models by name
 * are read from the `models` directory of the working directory unless `env.baseUrl` or
 * `options.baseUrl` says otherwise.
 *
 * @example
 * ```ts
 * import { Tamis } from 'tamis';
 * const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: './models' });
 * // or: Tamis.load({ manifest: 'models/minilm-l6-int8/manifest.json', model: ..., tokenizer: ... })
 * ```
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { env } from './env.js';
import { TamisError } from './errors.js';
import { setPlatform } from './platform.js';

/** A URL scheme: two letters or more, since one letter is a Windows drive (`C:\models`). */
const URL_SCHEME = /^[a-z][a-z\d+.-]+:/i;

/** A file's bytes; a missing file names the path (the loader says how to get that file). */
async function readLocalFile(url: URL, signal: AbortSignal): Promise<Uint8Array> {
  const path = fileURLToPath(url);
  try {
    const buffer = await readFile(path, { signal });
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if (signal.aborted) throw error;
    switch ((error as NodeJS.ErrnoException).code) {
      case 'ENOENT':
        throw new TamisError('model_missing', `there is no file ${path}`);
      case 'EISDIR':
        throw new TamisError(
          'invalid_argument',
          `${path} is a directory; name the file in it, or load the model by name: { model: name, baseUrl: directory }`,
        );
      default:
        throw new TamisError('fetch_failed', `${path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

setPlatform({
  wasm: () => new URL('./wasm/tamis_wasm_bg.wasm', import.meta.url),
  resolve: (location) => {
    if (location instanceof URL) return location;
    return URL_SCHEME.test(location) ? new URL(location) : pathToFileURL(resolvePath(location));
  },
  readFile: readLocalFile,
  threaded: 'node',
});
env.baseUrl = 'models';

export * from './api.js';
