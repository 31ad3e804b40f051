// Loading in Node as a newcomer writes it: paths, file: URLs and http(s) URLs; a model by name
// under a base directory or URL (`env.baseUrl` by default); errors that name the URL and what
// came back; progress in transformers.js's words; an AbortSignal that stops the downloads,
// on the page's thread and through the worker client.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { env, Tamis } from 'tamis';
import { TamisWorker } from 'tamis/client';
import { serve } from '../../dist/serve.js';
import { BUNDLE_DIR } from '../support/bundle.mjs';
import { assertCode } from '../support/assert-code.mjs';

const root = new URL('../../', import.meta.url);
process.chdir(fileURLToPath(root));
const NAME = 'minilm-l6-int8';
const bundlePath = (file) => fileURLToPath(new URL(file, BUNDLE_DIR));
const size = (file) => statSync(bundlePath(file)).size;

/**
 * The bundle over HTTP under /models/, slowly under /slow/ (one 16 kB chunk every 20 ms), with
 * a 404 model and a slow tokenizer under /broken/, a plain-text manifest under /plain/ and, as
 * Vite's dev server does, an HTML page for every other path. `closedEarly` lists the files whose
 * download the client gave up.
 */
const closedEarly = [];
const server = createServer((request, response) => {
  const [, route, name, file] = new URL(request.url, 'http://localhost').pathname.split('/');
  const real = name === NAME && ['manifest.json', 'model.onnx', 'tokenizer.json'].includes(file);
  const send = (status, type, body) => response.writeHead(status, { 'content-type': type, 'content-length': body.length }).end(body);
  if (route === 'plain' && file === 'manifest.json') return send(200, 'text/plain', 'hello');
  if (route === 'broken' && file === 'model.onnx') return send(404, 'text/plain', 'not found');
  if (!['models', 'slow', 'broken'].includes(route)) return send(200, 'text/html', '<!doctype html><div id="app"></div>');
  if (!real) return send(404, 'text/plain', 'not found');
  const bytes = readFileSync(bundlePath(file));
  if (route === 'models' || file === 'manifest.json') return send(200, 'application/octet-stream', bytes);
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
  response.on('close', () => { if (!response.writableFinished) closedEarly.push(`${route}/${file}`); });
  let offset = 0;
  const timer = setInterval(() => {
    if (response.destroyed) return clearInterval(timer);
    response.write(bytes.subarray(offset, offset + 16_384));
    offset += 16_384;
    if (offset >= bytes.length) { clearInterval(timer); response.end(); }
  }, 20);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
after(() => server.close());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The events of one file, in order: initiate, progress..., done. */
function checkFileEvents(events, file, url, bytes) {
  const mine = events.filter((event) => event.file === file);
  assert.deepEqual(mine[0], { status: 'initiate', file, url, loaded: 0, total: null, progress: null, cached: false });
  assert.deepEqual(mine.at(-1), { status: 'done', file, url, loaded: bytes, total: bytes, progress: 100, cached: false });
  const middle = mine.slice(1, -1);
  assert.ok(middle.length > 0 && middle.every((event) => event.status === 'progress'), `${file}: progress between`);
  assert.equal(middle.at(-1).progress, 100);
}

test('Node reads a relative path, a file: URL and a file: URL string, with progress', async () => {
  const events = [];
  const tamis = await Tamis.load({
    manifest: relative(process.cwd(), bundlePath('manifest.json')),
    model: new URL('model.onnx', BUNDLE_DIR),
    tokenizer: pathToFileURL(bundlePath('tokenizer.json')).href,
    onProgress: (event) => events.push(event),
  });
  assert.equal(tamis.backend, 'cpu');
  assert.equal((await tamis.embed(['read from disk'])).length, 1);
  for (const file of ['manifest.json', 'model.onnx', 'tokenizer.json']) {
    checkFileEvents(events, file.split('.')[0], pathToFileURL(bundlePath(file)).href, size(file));
  }
  assert.deepEqual(events.at(-1), { status: 'ready', backend: 'cpu' });
  await tamis.dispose();
});

test('a model by name: under a directory path, under env.baseUrl (default ./models), over http', async () => {
  assert.equal(env.baseUrl, 'models', "Node's default: the models directory of the working directory");
  for (const options of [{ model: NAME, baseUrl: relative(process.cwd(), fileURLToPath(new URL('..', BUNDLE_DIR))) }, { model: NAME }]) {
    const tamis = await Tamis.load(options);
    assert.equal(tamis.dimension, 384);
    await tamis.dispose();
  }
  env.baseUrl = `${origin}/models`;
  try {
    const events = [];
    const tamis = await Tamis.load({ model: NAME, onProgress: (event) => events.push(event) });
    checkFileEvents(events, 'model', `${origin}/models/${NAME}/model.onnx`, size('model.onnx'));
    assert.equal((await tamis.embed(['over http'])).length, 1);
    await tamis.dispose();
  } finally {
    env.baseUrl = 'models';
  }
});

test('a missing file names its path; a directory is not a file', async () => {
  const missing = fileURLToPath(new URL('../no-such-model/manifest.json', BUNDLE_DIR));
  await assertCode(() => Tamis.load({ model: 'no-such-model' }), 'model_missing', `there is no file ${missing}`, 'npx tamis models fetch');
  await assertCode(
    () => Tamis.load({ manifest: fileURLToPath(BUNDLE_DIR), model: bundlePath('model.onnx'), tokenizer: bundlePath('tokenizer.json') }),
    'invalid_argument',
    'is a directory',
  );
});

test('load errors name the URL, the HTTP status and the content type, and say when HTML came back', async () => {
  await assertCode(
    () => Tamis.load({ model: 'no-such-model', baseUrl: `${origin}/models/` }),
    'fetch_failed',
    `${origin}/models/no-such-model/manifest.json`, 'HTTP 404', 'content-type text/plain',
  );
  // A wrong path under a dev server that answers every path with its app page.
  await assertCode(
    () => Tamis.load({ model: NAME, baseUrl: `${origin}/app/` }),
    'fetch_failed',
    `${origin}/app/${NAME}/manifest.json`, 'HTTP 200', 'content-type text/html', 'got HTML — is the path right?',
  );
  await assertCode(
    () => Tamis.load({ model: NAME, baseUrl: `${origin}/plain/` }),
    'invalid_manifest',
    `the manifest from ${origin}/plain/${NAME}/manifest.json (HTTP 200, content-type text/plain) is not JSON`,
  );
  const html = Buffer.from('<!doctype html><title>Vite App</title>');
  await assertCode(
    () => Tamis.load({ manifest: html, model: bundlePath('model.onnx'), tokenizer: bundlePath('tokenizer.json') }),
    'invalid_manifest',
    'the manifest from the manifest bytes given is not JSON (got HTML — is the path right?)',
  );
});

test('an AbortSignal already aborted: no download, no progress', async () => {
  const events = [];
  const signal = AbortSignal.abort(new Error('the user left'));
  await assertCode(() => Tamis.load({ model: NAME, signal, onProgress: (event) => events.push(event) }), 'aborted', 'the load was aborted: the user left');
  assert.deepEqual(events, []);
});

/** Aborts once the model's download is under way; returns the events seen and after the rejection. */
async function abortDuringModelDownload(load) {
  closedEarly.length = 0;
  const controller = new AbortController();
  const events = [];
  const started = Date.now();
  await assertCode(
    () => load({
      model: NAME,
      baseUrl: `${origin}/slow/`,
      signal: controller.signal,
      onProgress: (event) => {
        events.push(event);
        if (event.file === 'model' && event.status === 'progress') controller.abort('stop');
      },
    }),
    'aborted',
    'the load was aborted: stop',
  );
  assert.ok(Date.now() - started < 2_000, 'rejected at once, not after the download');
  const seen = events.length;
  await sleep(300);
  assert.equal(events.length, seen, 'no progress after the rejection');
  assert.ok(closedEarly.includes('slow/model.onnx'), `the model download was cancelled: ${closedEarly}`);
}

test('aborting a load cancels its downloads and stops its progress', async () => {
  await abortDuringModelDownload((options) => Tamis.load(options));
});

test('a failed load cancels its other downloads and stops its progress', async () => {
  closedEarly.length = 0;
  const events = [];
  await assertCode(
    () => Tamis.load({ model: NAME, baseUrl: `${origin}/broken/`, onProgress: (event) => events.push(event) }),
    'fetch_failed',
    `${origin}/broken/${NAME}/model.onnx (HTTP 404`,
  );
  const seen = events.length;
  await sleep(300);
  assert.equal(events.length, seen, 'no progress after the rejection');
  assert.ok(closedEarly.includes('broken/tokenizer.json'), `the tokenizer download was cancelled: ${closedEarly}`);
});

test('through the worker client: a model by name, progress, and an abort that reaches the worker', async () => {
  const { port1, port2 } = new MessageChannel();
  serve(port2);
  port1.start();
  await abortDuringModelDownload((options) => TamisWorker.load(port1, options));
  const events = [];
  const tamis = await TamisWorker.load(port1, { model: NAME, baseUrl: `${origin}/models/`, onProgress: (event) => events.push(event) });
  assert.equal(tamis.backend, 'cpu');
  checkFileEvents(events, 'model', `${origin}/models/${NAME}/model.onnx`, size('model.onnx'));
  assert.deepEqual(events.at(-1), { status: 'ready', backend: 'cpu' });
  await tamis.dispose();
  port1.close();
});
