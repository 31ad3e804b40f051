// Privacy: once the model bytes are handed over, the whole JS API (load, embed, classify,
// edit, fuse, dispose) must not touch the network. Every network primitive Node offers is
// trapped, dynamic import() included (through a module resolve hook), and any call fails
// the test. Error messages must not carry the user's text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { bundleFiles } from '../support/bundle.mjs';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url);
const files = bundleFiles();
const wasm = readFileSync(new URL('dist/wasm/tamis_wasm_bg.wasm', root));
const policy = readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8');

// Imported before arming: the module graph is loaded; from here on nothing may be imported.
const { Tamis, TamisError, fuseLists } = await import('tamis');

const calls = [];
const armed = new Int32Array(new SharedArrayBuffer(4));
const { port1, port2 } = new MessageChannel();
port1.on('message', (specifier) => calls.push(`import(${specifier})`));
port1.unref();
register(
  `data:text/javascript,${encodeURIComponent(`
    let armed, port;
    export function initialize(data) { armed = data.armed; port = data.port; }
    export async function resolve(specifier, context, next) {
      if (Atomics.load(armed, 0) === 1) port.postMessage(specifier);
      return next(specifier, context);
    }`)}`,
  { data: { armed, port: port2 }, transferList: [port2] },
);

function trap(owner, name, label) {
  const original = owner[name];
  owner[name] = function trapped(...args) {
    calls.push(label);
    return original.apply(this, args);
  };
}

function arm() {
  trap(globalThis, 'fetch', 'fetch');
  for (const name of ['WebSocket', 'XMLHttpRequest', 'EventSource']) {
    if (name in globalThis) trap(globalThis, name, name);
  }
  for (const module of ['node:http', 'node:https']) {
    trap(require(module), 'request', `${module} request`);
    trap(require(module), 'get', `${module} get`);
  }
  trap(require('node:net'), 'connect', 'net.connect');
  trap(require('node:net'), 'createConnection', 'net.createConnection');
  trap(require('node:tls'), 'connect', 'tls.connect');
  trap(require('node:dns'), 'lookup', 'dns.lookup');
  trap(require('node:dgram'), 'createSocket', 'dgram.createSocket');
  Atomics.store(armed, 0, 1);
}

test('the whole API runs without a network call once the bytes are handed over', async () => {
  arm();
  const tamis = await Tamis.load({ ...files, wasm });
  const secret = 'my private diary entry about my neighbour';
  await tamis.embed([secret]);
  const classifier = await tamis.classifier(policy);
  await classifier.classify([secret, 'WINNER!! Claim your FREE prize now']);
  await classifier.edit({ op: 'add_example', category: 'spam', text: secret });
  await classifier.classify([secret]);
  await tamis.fuse({ lists: [{ name: 'a', items: [{ id: '1', text: secret }, { id: '2', text: 'tide tables' }] }], query: 'tides' });
  await fuseLists({ lists: [{ name: 'a', items: [{ id: '1' }] }] });

  // Errors name positions and sizes, never the text.
  const failures = [];
  for (const action of [
    () => classifier.classify([secret, '  ']),
    () => classifier.classify([`${secret} `.repeat(40_000)]),
    () => classifier.edit({ op: 'add_example', category: 'spam', text: secret }),
    () => classifier.edit({ op: 'add_example', category: secret, text: 'x' }),
    () => tamis.fuse({ lists: [{ name: 'a', items: [{ id: secret, score: NaN }] }] }),
  ]) {
    await assert.rejects(action, (error) => {
      assert.ok(error instanceof TamisError);
      failures.push(error.message);
      return true;
    });
  }
  await classifier.dispose();
  await tamis.dispose();
  // The unknown category is named back to the caller who typed it; no other message may
  // carry the private text.
  const leaking = failures.filter((message) => message.includes('private diary') && !message.includes('no category named'));
  assert.deepEqual(leaking, []);
  await new Promise((resolve) => setTimeout(resolve, 100)); // lets the hook's messages arrive
  assert.deepEqual(calls, []);
});
