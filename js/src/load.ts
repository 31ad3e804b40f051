// Getting the bytes of the model files and the `.wasm`: given, fetched (with the Cache API) or,
// in Node, read from disk; with progress, checksums and cancellation.
import { describe } from './arguments.js';
import { env } from './env.js';
import { abortedError, TamisError } from './errors.js';
import { type BytesSource, currentPlatform, type Platform } from './platform.js';
import type { Architecture, LoadFile, LoadProgress, Manifest } from './types.js';

export type { BytesSource } from './platform.js';

/** Name of the Cache API store; bump the version when the caching scheme changes. */
export const CACHE_NAME = 'tamis-models-v1';

/** A bundle's files beside its `manifest.json`: the model, and the tokenizer where it is a file of its own. */
export interface ArchitectureFiles {
  /** The model file. */
  model: string;
  /** The tokenizer file; null where the model file holds the tokenizer. */
  tokenizer: string | null;
}

/**
 * The files of a bundle of each architecture, beside its `manifest.json`: what a load by name
 * fetches and what a load by files takes. The same as `tamis_model::Architecture`'s (a test
 * compares them).
 *
 * @example
 * ```ts
 * ARCHITECTURE_FILES['xlm-roberta']; // { model: 'model.e5s', tokenizer: null }
 * ```
 */
export const ARCHITECTURE_FILES: Readonly<Record<Architecture, Readonly<ArchitectureFiles>>> = {
  bert: { model: 'model.onnx', tokenizer: 'tokenizer.json' },
  'xlm-roberta': { model: 'model.e5s', tokenizer: null },
};

/**
 * A model bundle's files, given one by one: its manifest, its model and, for a `bert` bundle,
 * its tokenizer (an `xlm-roberta` model file holds its own). Which architecture a bundle is,
 * its manifest says; the files given must be the ones it names.
 *
 * @example
 * ```ts
 * // multilingual-e5-small (xlm-roberta): no tokenizer file
 * await Tamis.load({ manifest: 'models/e5-small-q4/manifest.json', model: 'models/e5-small-q4/model.e5s' });
 * // all-MiniLM-L6-v2 (bert)
 * await Tamis.load({ manifest: 'models/minilm-l6-int8/manifest.json',
 *   model: 'models/minilm-l6-int8/model.onnx', tokenizer: 'models/minilm-l6-int8/tokenizer.json' });
 * ```
 */
export interface BundleFiles {
  /** `manifest.json` of the bundle (its sha256 values check the other files). */
  manifest: BytesSource;
  /** The model file: `model.onnx` (`bert`) or `model.e5s` (`xlm-roberta`). */
  model: BytesSource;
  /** `tokenizer.json`, for a `bert` bundle only: leave it out for an `xlm-roberta` one. */
  tokenizer?: BytesSource;
}

/**
 * A model by name, found under `baseUrl` (transformers.js's `pipeline(task, 'model-id')`):
 * `<baseUrl>/<model>/manifest.json` first, then the files its architecture names.
 */
export interface NamedModel {
  /**
   * The model's name, e.g. `minilm-l6-int8` (English, 23 MB) or `e5-small-q4` (about 100
   * languages, 72 MB): its files are `<baseUrl>/<model>/manifest.json`, ...
   */
  model: string;
  /** Where named models are; default `env.baseUrl`. In Node also a directory path. */
  baseUrl?: string | URL;
  manifest?: undefined;
  tokenizer?: undefined;
}

/** Where a load finds its bundle: the files given, or the folder of a model by name. */
export type BundleLocation = { files: BundleFiles } | { name: string; base: URL };

/** The sources of a bundle's files beside its manifest, for one architecture. */
export interface ModelSources {
  model: BytesSource;
  /** Absent where the model file holds the tokenizer. */
  tokenizer: BytesSource | undefined;
}

/** A manifest as `parseManifest` returns it: with its architecture, `bert` where it names none. */
export type ParsedManifest = Manifest & { architecture: Architecture };

export interface FetchOptions {
  /** Keep fetched bytes in the Cache API (where there is one), keyed by URL. */
  cache: boolean;
  signal: AbortSignal;
  onProgress: (progress: LoadProgress) => void;
}

/** Bytes, and where they came from, for messages. */
export interface Loaded {
  bytes: Uint8Array;
  /** e.g. `http://host/m/manifest.json (HTTP 200, content-type text/html)`, or `the bytes given`. */
  origin: string;
}

const MODEL_NAME = /^[A-Za-z0-9][\w.-]*$/;

const ARCHITECTURES = Object.keys(ARCHITECTURE_FILES) as Architecture[];

/** Bytes, or a location (a URL, in Node also a path). */
export function isBytesSource(value: unknown): value is BytesSource {
  return typeof value === 'string' || value instanceof URL || value instanceof Uint8Array || value instanceof ArrayBuffer;
}

/** The absolute URL of `location`; a location that is no URL (nor path in Node) is `invalid_argument`. */
function resolveLocation(location: string | URL, what: string): URL {
  try {
    return currentPlatform().resolve(location);
  } catch (error) {
    throw new TamisError('invalid_argument', `${what} ${JSON.stringify(String(location))} is not a URL: ${String(error)}`);
  }
}

/**
 * Where the bundle `options` names is: its files given (`{ manifest, model, tokenizer? }`), or
 * the folder of a model by name under `options.baseUrl` (default `env.baseUrl`).
 */
export function locateBundle(options: Partial<BundleFiles> & { baseUrl?: string | URL }, method: string): BundleLocation {
  const { manifest, model, tokenizer } = options;
  if (manifest === undefined && tokenizer === undefined) {
    if (typeof model !== 'string' || !MODEL_NAME.test(model)) {
      throw new TamisError(
        'invalid_argument',
        `${method}: options.model is ${typeof model === 'string' ? JSON.stringify(model) : describe(model)}; ` +
          "pass a model name (e.g. { model: 'minilm-l6-int8', baseUrl: '/models/' }) " +
          'or the files { manifest, model } (and tokenizer for a bert model)',
      );
    }
    const base = resolveLocation(options.baseUrl ?? env.baseUrl, 'the base URL');
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return { name: model, base };
  }
  const given = { manifest, model, ...(tokenizer === undefined ? {} : { tokenizer }) };
  for (const [key, value] of Object.entries(given)) {
    if (!isBytesSource(value)) {
      throw new TamisError(
        'invalid_argument',
        `${method}: options.${key} is ${describe(value)}; pass bytes (Uint8Array, ArrayBuffer) or a URL ` +
          '(in Node also a path), or load a model by name: { model: name } alone',
      );
    }
  }
  return { files: given as BundleFiles };
}

/** The URL of `file` in the folder of the model `name` under `base`. */
function namedFile(location: { name: string; base: URL }, file: string): URL {
  return new URL(`${location.name}/${file}`, location.base);
}

/** Where the bundle's `manifest.json` is. */
export function manifestSource(location: BundleLocation): BytesSource {
  return 'files' in location ? location.files.manifest : namedFile(location, 'manifest.json');
}

/**
 * The model and tokenizer sources of the bundle at `location`, for the architecture `manifest`
 * names: a model by name has them in its folder; files given must be the ones the architecture
 * needs (`invalid_argument` naming what to pass otherwise).
 */
export function modelSources(location: BundleLocation, manifest: ParsedManifest, method: string): ModelSources {
  const { architecture } = manifest;
  const names = ARCHITECTURE_FILES[architecture];
  if (!('files' in location)) {
    return {
      model: namedFile(location, names.model),
      tokenizer: names.tokenizer === null ? undefined : namedFile(location, names.tokenizer),
    };
  }
  const { model, tokenizer } = location.files;
  const mismatch = (fix: string) =>
    new TamisError('invalid_argument', `${method}: the manifest of ${manifest.id} says architecture ${architecture}: ${fix}`);
  if (names.tokenizer === null && tokenizer !== undefined) {
    throw mismatch(`its tokenizer is inside ${names.model}, leave options.tokenizer out ({ manifest, model })`);
  }
  if (names.tokenizer !== null && tokenizer === undefined) {
    throw mismatch(`pass its ${names.tokenizer} as options.tokenizer ({ manifest, model, tokenizer })`);
  }
  const modelFile = fileName(model);
  const otherModelFile = ARCHITECTURES.some((other) => other !== architecture && ARCHITECTURE_FILES[other].model === modelFile);
  if (otherModelFile) {
    throw mismatch(`options.model names ${modelFile}, pass its ${names.model}`);
  }
  return { model, tokenizer };
}

/** The last path segment of a URL or path, lower case; undefined for bytes. */
function fileName(source: BytesSource): string | undefined {
  if (source instanceof URL) return source.pathname.split('/').at(-1)?.toLowerCase();
  if (typeof source !== 'string') return undefined;
  return source.replace(/[?#].*$/, '').split(/[/\\]/).at(-1)?.toLowerCase();
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

/** Reports one file's progress in transformers.js's words. */
class ProgressReporter {
  constructor(
    readonly file: LoadFile,
    readonly url: string | null,
    readonly cached: boolean,
    readonly onProgress: (progress: LoadProgress) => void,
  ) {
    onProgress({ status: 'initiate', file, url, loaded: 0, total: null, progress: null, cached });
  }

  report(status: 'progress' | 'done', loaded: number, total: number | null): void {
    const progress = total === null || total === 0 ? null : Math.min(100, (loaded / total) * 100);
    this.onProgress({ status, file: this.file, url: this.url, loaded, total, progress, cached: this.cached });
  }

  /** All `size` bytes at once: a last `progress` at 100%, then `done`. */
  complete(size: number): void {
    this.report('progress', size, size);
    this.report('done', size, size);
  }
}

/** Reads a response body in chunks, reporting progress. */
async function readBody(response: Response, progress: ProgressReporter, signal: AbortSignal): Promise<Uint8Array> {
  const header = response.headers.get('content-length');
  const total = header === null ? null : Number(header);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    progress.complete(bytes.length);
    return bytes;
  }
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      progress.report('progress', loaded, total);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  progress.report('done', loaded, total ?? loaded);
  return bytes;
}

/** Hex sha256 of `bytes`, with Web Crypto (browsers, workers and Node 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What a response is, for messages: its URL, status and content type. */
function responseOrigin(url: string, response: Response): string {
  return `${url} (HTTP ${response.status}, content-type ${response.headers.get('content-type') ?? 'not given'})`;
}

const HTML_HINT = 'got HTML — is the path right?';

/**
 * The bytes of `source`: as given, fetched (from the cache first when allowed) or, in Node,
 * read from disk. When `sha256` is given, the bytes must match it (Web Crypto); a cached copy
 * that does not is dropped and fetched again. Nothing is fetched that the caller did not name.
 */
export async function loadBytes(
  source: BytesSource,
  file: LoadFile,
  options: FetchOptions,
  sha256?: string,
): Promise<Loaded> {
  const { bytes, origin, verified } = await loadBytesChecking(source, file, options, sha256);
  await verified;
  return { bytes, origin };
}

/** Bytes whose sha256 check may still be running. */
export interface Checking extends Loaded {
  /** Settles when the check is done; rejects with `checksum_mismatch` when the bytes differ. */
  verified: Promise<void>;
}

/**
 * `loadBytes`, returning as soon as the bytes are there: the check of bytes given or read from
 * disk runs meanwhile (Web Crypto hashes off this thread: 0.1 to 0.3 s for e5's 72 MB on a busy
 * 2-core machine), so that the caller can build from them at the same time, and must await
 * `verified` before it uses what it built. Downloads are checked before they are cached, as by
 * `loadBytes`.
 */
export async function loadBytesChecking(
  source: BytesSource,
  file: LoadFile,
  options: FetchOptions,
  sha256?: string,
): Promise<Checking> {
  const checking = (bytes: Uint8Array, what: string): Promise<void> => {
    if (sha256 === undefined) return Promise.resolve();
    const verified = verify(bytes, sha256, what);
    // Handled where the caller awaits it; until then a mismatch is no unhandled rejection.
    verified.catch(() => undefined);
    return verified;
  };
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    new ProgressReporter(file, null, false, options.onProgress).complete(bytes.length);
    const origin = `the ${file} bytes given`;
    return { bytes, origin, verified: checking(bytes, origin) };
  }
  const url = resolveLocation(source, `the ${file} location`);
  const readFile = url.protocol === 'file:' ? currentPlatform().readFile : undefined;
  try {
    if (readFile) {
      const { bytes, origin } = await readLocal(readFile, url, file, options);
      return { bytes, origin, verified: checking(bytes, `the ${file} at ${url.href}`) };
    }
    return { ...(await download(url.href, file, options, sha256)), verified: Promise.resolve() };
  } catch (error) {
    if (options.signal.aborted) throw abortedError(options.signal.reason);
    throw error;
  }
}

/** The files `npx tamis models fetch` writes. */
const MODEL_FILES: readonly LoadFile[] = ['manifest', 'model', 'tokenizer'];

async function readLocal(
  readFile: NonNullable<Platform['readFile']>,
  url: URL,
  file: LoadFile,
  options: FetchOptions,
): Promise<Loaded> {
  const progress = new ProgressReporter(file, url.href, false, options.onProgress);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(url, options.signal);
  } catch (error) {
    const { code, message } = error instanceof TamisError ? error : new TamisError('fetch_failed', String(error));
    // Only a model's own files come from `models fetch`; the priors and the .wasm ship with the
    // package, and their loaders say how to deploy them.
    const hint =
      code === 'model_missing' && MODEL_FILES.includes(file)
        ? " (a model's files: `npx tamis models fetch <name> models/<name>` downloads them)"
        : '';
    throw new TamisError(code, `could not read the ${file}: ${message}${hint}`, { cause: error });
  }
  progress.complete(bytes.length);
  return { bytes, origin: `${url.href} (read from disk)` };
}

async function download(url: string, file: LoadFile, options: FetchOptions, sha256?: string): Promise<Loaded> {
  const cache = sha256 === undefined ? undefined : await openCache(options);
  const hit = await cache?.match(url).catch(() => undefined);
  if (hit) {
    const bytes = await readBody(hit, new ProgressReporter(file, url, true, options.onProgress), options.signal);
    if ((await sha256Hex(bytes)) === sha256?.toLowerCase()) return { bytes, origin: `${url} (from the cache)` };
    await cache?.delete(url);
  }
  const progress = new ProgressReporter(file, url, false, options.onProgress);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (error) {
    throw new TamisError('fetch_failed', `could not fetch the ${file} from ${url}: ${String(error)}`, { cause: error });
  }
  const origin = responseOrigin(url, response);
  const html = /^text\/html\b/i.test(response.headers.get('content-type') ?? '');
  if (!response.ok || html) {
    void response.body?.cancel().catch(() => undefined);
    const hint = html ? `: ${HTML_HINT}` : '';
    throw new TamisError('fetch_failed', `could not fetch the ${file} from ${origin}${hint}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBody(response, progress, options.signal);
  } catch (error) {
    throw new TamisError('fetch_failed', `the download of the ${file} from ${origin} failed: ${String(error)}`, {
      cause: error,
    });
  }
  if (sha256 !== undefined) {
    await verify(bytes, sha256, `the ${file} from ${url}`);
    // Caching is an optimization: a full disk or a refused write (Chromium's
    // ERR_CACHE_WRITE_FAILURE) must not fail the load.
    await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>)).catch(() => undefined);
  }
  return { bytes, origin };
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

/**
 * Reads and checks the manifest's shape: JSON naming a known architecture (none: `bert`) and
 * the sha256 of each file the architecture needs; the wasm module checks the rest.
 */
export function parseManifest({ bytes, origin }: Loaded): ParsedManifest {
  const text = new TextDecoder().decode(bytes);
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    const hint = /^\s*</.test(text) ? ` (${HTML_HINT})` : '';
    throw new TamisError('invalid_manifest', `the manifest from ${origin} is not JSON${hint}: ${String(error)}`);
  }
  const fields = manifest as Partial<Manifest> | null;
  const architecture = fields?.architecture ?? 'bert';
  if (!ARCHITECTURES.includes(architecture)) {
    throw new TamisError(
      'invalid_manifest',
      `the manifest from ${origin} names the architecture ${JSON.stringify(architecture)}; ` +
        `this version of tamis knows ${ARCHITECTURES.join(', ')}`,
    );
  }
  const { model, tokenizer } = ARCHITECTURE_FILES[architecture];
  for (const name of tokenizer === null ? [model] : [model, tokenizer]) {
    if (typeof fields?.files?.[name]?.sha256 !== 'string') {
      throw new TamisError(
        'invalid_manifest',
        `the manifest from ${origin} has no files["${name}"].sha256, which a bundle of architecture ${architecture} needs`,
      );
    }
  }
  return { ...(manifest as Manifest), architecture };
}

/**
 * One load: its downloads share one signal, aborted when the caller's signal aborts or when
 * any part fails (so nothing goes on downloading for a load that is over), and its progress
 * stops the moment it rejects.
 */
export class LoadRun {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #listener: ((progress: LoadProgress) => void) | undefined;
  #open = true;

  constructor(caller: AbortSignal | undefined, listener: ((progress: LoadProgress) => void) | undefined) {
    this.#caller = caller;
    this.#listener = listener;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Forwards progress to the caller's listener while the load runs. */
  readonly onProgress = (progress: LoadProgress): void => {
    if (this.#open) this.#listener?.(progress);
  };

  /**
   * Runs `work`; rejects with `aborted` as soon as the caller aborts, without waiting for
   * steps that cannot be cancelled (compiling the model), whose result `discard` frees.
   */
  async run<T>(work: () => Promise<T>, discard: (value: T) => unknown): Promise<T> {
    const caller = this.#caller;
    if (caller?.aborted) throw abortedError(caller.reason);
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        const error = abortedError(caller?.reason);
        this.#controller.abort(error);
        reject(error);
      };
    });
    caller?.addEventListener('abort', onAbort, { once: true });
    const result = work();
    try {
      return await Promise.race([result, aborted]);
    } catch (error) {
      this.#open = false;
      this.#controller.abort(error);
      result.then(discard, () => undefined);
      throw error;
    } finally {
      caller?.removeEventListener('abort', onAbort);
    }
  }
}
