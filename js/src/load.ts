import { TamisError } from './errors.js';
import type { LoadProgress, Manifest } from './types.js';

/** Bytes given directly, or where to fetch them. */
export type BytesSource = Uint8Array | ArrayBuffer | URL | string;

/** Name of the Cache API store; bump the version when the caching scheme changes. */
export const CACHE_NAME = 'tamis-models-v1';

export interface FetchOptions {
  /** Keep fetched bytes in the Cache API (where there is one), keyed by URL. Default true. */
  cache: boolean;
  onProgress?: (progress: LoadProgress) => void;
}

function isLocation(source: BytesSource): source is URL | string {
  return typeof source === 'string' || source instanceof URL;
}

async function openCache(options: FetchOptions): Promise<Cache | undefined> {
  if (!options.cache || typeof caches === 'undefined') return undefined;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    // Opaque origins and some private modes refuse the Cache API: load without it.
    return undefined;
  }
}

/** Reads a response body in chunks, reporting progress. */
async function readBody(
  response: Response,
  file: LoadProgress['file'],
  cached: boolean,
  onProgress?: (progress: LoadProgress) => void,
): Promise<Uint8Array> {
  const header = response.headers.get('content-length');
  const total = header === null ? null : Number(header);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ file, loaded, total, cached });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ file, loaded, total, cached });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Hex sha256 of `bytes`, with Web Crypto (browsers, workers and Node 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The bytes of `source`: as given, or fetched (from the cache first when allowed). When
 * `sha256` is given, the bytes must match it (Web Crypto); a cached copy that does not is
 * dropped and fetched again. Nothing is fetched that the caller did not name.
 */
export async function loadBytes(
  source: BytesSource,
  file: LoadProgress['file'],
  options: FetchOptions,
  sha256?: string,
): Promise<Uint8Array> {
  if (!isLocation(source)) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    options.onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: false });
    if (sha256 !== undefined) await verify(bytes, sha256, `the ${file} bytes`);
    return bytes;
  }
  const url = String(source);
  const cache = sha256 === undefined ? undefined : await openCache(options);
  const hit = await cache?.match(url);
  if (hit) {
    const bytes = await readBody(hit, file, true, options.onProgress);
    if ((await sha256Hex(bytes)) === sha256?.toLowerCase()) return bytes;
    await cache?.delete(url);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new TamisError('fetch_failed', `could not fetch the ${file} from ${url}: ${String(error)}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    throw new TamisError('fetch_failed', `could not fetch the ${file} from ${url}: HTTP ${response.status}`);
  }
  const bytes = await readBody(response, file, false, options.onProgress);
  if (sha256 !== undefined) {
    await verify(bytes, sha256, `the ${file} from ${url}`);
    await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>));
  }
  return bytes;
}

async function verify(bytes: Uint8Array, sha256: string, what: string): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== sha256.toLowerCase()) {
    throw new TamisError(
      'checksum_mismatch',
      `${what} has sha256 ${actual}, the manifest says ${sha256}; ` +
        'the file is corrupt or belongs to another model version',
    );
  }
}

/** Reads and checks the manifest's shape; the wasm module checks the rest. */
export function parseManifest(bytes: Uint8Array): Manifest {
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new TamisError('invalid_manifest', `the manifest is not JSON: ${String(error)}`);
  }
  const files = (manifest as Partial<Manifest> | null)?.files;
  for (const name of ['model.onnx', 'tokenizer.json']) {
    if (typeof files?.[name]?.sha256 !== 'string') {
      throw new TamisError('invalid_manifest', `the manifest has no files["${name}"].sha256`);
    }
  }
  return manifest as Manifest;
}
