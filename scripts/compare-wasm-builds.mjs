// Two or more builds of the single-thread wasm module side by side, in Node and in Chromium: the
// best shape of a kernel differs between V8 versions (four rows per tile of the int8 products
// was 10% faster in Node 20 and 25% slower in Chromium 156), so a kernel change is measured in
// both. Not a test: it prints ms per Mastodon post and checks nothing.
//
//   npm run build
//   cargo build --profile wasm-release -p tamis-wasm --target wasm32-unknown-unknown
//   wasm-bindgen --target web --out-dir /tmp/build-a target/wasm32-unknown-unknown/wasm-release/tamis_wasm.wasm
//   (change the code, build again into /tmp/build-b)
//   node scripts/compare-wasm-builds.mjs [--model e5-small-q4] [--rounds 2] /tmp/build-a /tmp/build-b
//
// Each build folder holds wasm-bindgen's output (tamis_wasm.js, tamis_wasm_bg.wasm); the script
// copies it over dist/wasm/ in turn, builds alternating within each round, and puts dist/wasm/
// back as it found it. Per build and round, in a fresh Node process and in a fresh page running
// the demo's worker on one thread: the first 96 Mastodon posts 32 per call and the first 48 one
// per call, after warm-up calls, as `npm run bench:browser`'s threads rows measure them
// (`msPerPost`, bench-timeline.mjs). Builds without wasm-opt ran within a few percent of
// optimized ones, so wasm-bindgen's output can be compared as it is.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { DEMO_ROUTES, ISOLATION_HEADERS, demoPosts, startServer } from '../tests/support/serve.mjs';
import { launchOptions } from '../tests/browser/chromium.mjs';
import { readCsv } from '../tests/support/csv.mjs';
import { msPerPost } from './bench-timeline.mjs';

const root = new URL('../', import.meta.url);
const { values: args, positionals: builds } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'minilm-l6-int8' },
    rounds: { type: 'string', default: '2' },
    'node-only': { type: 'boolean', default: false },
    // Internal: one Node measurement of dist/ as it is, printed as JSON.
    'measure-node': { type: 'boolean', default: false },
  },
});
/** Posts measured 32 per call, and how many of them one per call. */
const POSTS = 96;
const SINGLE = 48;
const postsFile = new URL('../shared/data/harmful/mastodon/mastodon2025-en-shuffled-predicted.csv', root).pathname;

if (args['measure-node']) {
  const { Tamis, ARCHITECTURE_FILES } = await import('../dist/node.js');
  const folder = new URL(`models/${args.model}/`, root);
  const read = (name) => readFileSync(new URL(name, folder));
  const manifest = read('manifest.json');
  const names = ARCHITECTURE_FILES[JSON.parse(new TextDecoder().decode(manifest)).architecture];
  const tamis = await Tamis.load({
    manifest, model: read(names.model), ...(names.tokenizer && { tokenizer: read(names.tokenizer) }),
  });
  const posts = readCsv(postsFile, POSTS).map((row) => row.text);
  console.log(JSON.stringify(await msPerPost(tamis, posts, SINGLE)));
  process.exit(0);
}

const rounds = Number(args.rounds);
if (builds.length < 2 || !(Number.isInteger(rounds) && rounds >= 1)) {
  throw new Error('usage: node scripts/compare-wasm-builds.mjs [--model NAME] [--rounds N] BUILD_DIR BUILD_DIR...');
}
for (const build of builds) {
  if (!existsSync(join(build, 'tamis_wasm_bg.wasm'))) throw new Error(`${build}: no tamis_wasm_bg.wasm (wasm-bindgen's output)`);
}
const distWasm = new URL('dist/wasm/', root).pathname;
if (!existsSync(distWasm)) throw new Error('dist/ is missing: run `npm run build` first');
const saved = mkdtempSync(join(tmpdir(), 'tamis-dist-wasm-'));
cpSync(distWasm, saved, { recursive: true });

const { server, origin } = await startServer({
  routes: DEMO_ROUTES,
  generated: {
    '/compare/posts.json': JSON.stringify(demoPosts(POSTS)),
    '/compare/timeline.mjs': readFileSync(new URL('scripts/bench-timeline.mjs', root)),
    '/compare.html': '<!doctype html><meta charset="utf-8"><title>tamis builds</title>',
  },
  headers: ISOLATION_HEADERS,
});
const browser = args['node-only'] ? null : await chromium.launch(launchOptions);

/** ms per post in Chromium, one thread: 32 per call and one per call. */
async function measureChromium() {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/compare.html`);
  const result = await page.evaluate(async ({ model, count, single }) => {
    const { TamisWorker } = await import('/dist/client.js');
    const { msPerPost } = await import('/compare/timeline.mjs');
    const texts = (await (await fetch('/compare/posts.json')).json()).posts.slice(0, count).map((post) => post.text);
    const worker = new Worker('/dist/worker.js', { type: 'module' });
    const tamis = await TamisWorker.load(worker, { model, baseUrl: '/models/', threads: 1, cache: false });
    const speed = await msPerPost(tamis, texts, single);
    worker.terminate();
    return speed;
  }, { model: args.model, count: POSTS, single: SINGLE });
  await page.context().close();
  return result;
}

const ms = (value) => value.toFixed(2).padStart(7);
console.log(`${args.model}, ms per Mastodon post, one thread; builds alternating, ${rounds} round(s)`);
console.log(`${'build'.padEnd(32)} Node 32/call  1/call${args['node-only'] ? '' : '  Chromium 32/call  1/call'}`);
try {
  for (let round = 0; round < rounds; round++) {
    for (const build of builds) {
      cpSync(build, distWasm, { recursive: true });
      const node = JSON.parse(execFileSync(process.execPath,
        [new URL(import.meta.url).pathname, '--measure-node', '--model', args.model], { encoding: 'utf8' }));
      const chromium = browser && await measureChromium();
      const row = [node, ...(chromium ? [chromium] : [])]
        .map(({ perPost32, perPost1 }) => `${ms(perPost32).padStart(12)} ${ms(perPost1)}`).join(' ');
      console.log(`${build.padEnd(32)} ${row}`);
    }
  }
} finally {
  rmSync(distWasm, { recursive: true, force: true });
  cpSync(saved, distWasm, { recursive: true });
  rmSync(saved, { recursive: true, force: true });
  await browser?.close();
  server.close();
}
