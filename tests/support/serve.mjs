// Serves the demo page (www/) with the npm package (dist/) and the model bundle (models/) on
// localhost, the posts of its timeline at /data/posts.json (the Mastodon data set's first 800
// posts when ../shared/data is there, the sample posts otherwise) and the fusion tab's
// Cranfield lists at /data/fusion.json (written by `tamis eval lists`). It sends COOP and COEP,
// so the demo page is cross-origin isolated and its worker runs tamis's threaded module on the
// machine's cores (`threads: 'auto'`); --no-isolation serves it without them (tamis then runs one thread and says
// why on the status line).
//
//   node tests/support/serve.mjs [--port 8080] [--no-isolation]
//
// `startServer` is also what the browser tests serve their pages with.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { readCsv } from './csv.mjs';

const root = new URL('../../', import.meta.url);
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
};

/**
 * A static server on 127.0.0.1. `routes` maps URL prefixes to folders of the repository (the
 * first match wins), `generated` maps exact paths to bodies (JSON under /api/, as Mastodon's
 * API), `headers` are sent with every response (COOP and COEP, for a cross-origin isolated
 * page). `requests` counts every path asked for, so tests can tell what was fetched.
 */
export async function startServer({ routes, generated = {}, headers = {}, port = 0 }) {
  const requests = new Map();
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://localhost').pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path in generated) {
      const type = TYPES[extname(path)] ?? (path.startsWith('/api/') ? TYPES['.json'] : 'text/plain');
      response.writeHead(200, { ...headers, 'content-type': type }).end(generated[path]);
      return;
    }
    const route = Object.keys(routes).find((prefix) => path.startsWith(prefix));
    if (route === undefined || path.includes('..')) return response.writeHead(404).end();
    let relative = routes[route] + path.slice(route.length);
    if (relative.endsWith('/') || relative === routes[route]) relative += 'index.html';
    try {
      const file = new URL(relative, root);
      const { size } = await stat(file);
      response.writeHead(200, {
        ...headers,
        'content-type': TYPES[extname(relative)] ?? 'application/octet-stream',
        'content-length': size,
        'cache-control': 'no-store',
      });
      response.end(await readFile(file));
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, requests, origin: `http://localhost:${server.address().port}` };
}

/**
 * The headers that make a page cross-origin isolated, which browsers require before they give it
 * (and its workers) shared memory, so tamis's threaded module. Every file of the demo comes from
 * its own origin, which `require-corp` lets through.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/** The demo's timeline: real Mastodon posts when the evaluation data is there. */
export function demoPosts(limit = 800) {
  const mastodon = new URL('../shared/data/harmful/mastodon/mastodon2025-en-shuffled-predicted.csv', root);
  if (existsSync(mastodon)) {
    const posts = readCsv(mastodon.pathname, limit).map((row, i) => ({ id: String(i + 1), text: row.text }));
    return {
      source: 'Mastodon 2025 data set (text only; its labels are LLM predictions, not used here)',
      posts,
    };
  }
  const lines = readFileSync(new URL('crates/tamis-cli/samples/posts.txt', root), 'utf8').split('\n').filter(Boolean);
  return { source: 'sample posts', posts: lines.map((text, i) => ({ id: String(i + 1), text })) };
}

/** Where `tamis eval lists` writes the fusion tab's data. */
export const FUSION_LISTS = new URL('target/eval/cranfield/demo-lists.json', root);

/** The fusion tab's Cranfield queries and retriever lists, or why they are missing. */
export function demoFusion() {
  if (existsSync(FUSION_LISTS)) return readFileSync(FUSION_LISTS, 'utf8');
  return JSON.stringify({
    missing: 'The fusion tab needs the Cranfield collection (../shared/data/ir) and ' +
      '`cargo run --release -p tamis-cli -- eval lists`, which writes its retriever lists.',
  });
}

/** Every generated path of the demo, its timeline cut to `posts` posts. */
export const demoData = (posts = 800) => ({
  '/data/posts.json': JSON.stringify(demoPosts(posts)),
  '/data/fusion.json': demoFusion(),
});

export const DEMO_ROUTES = {
  '/dist/': 'dist/',
  '/models/': 'models/',
  '/samples/': 'crates/tamis-cli/samples/',
  '/': 'www/',
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8080' }, 'no-isolation': { type: 'boolean', default: false } },
  });
  const isolated = !values['no-isolation'];
  const { origin } = await startServer({
    routes: DEMO_ROUTES,
    generated: demoData(),
    headers: isolated ? ISOLATION_HEADERS : {},
    port: Number(values.port),
  });
  const threads = isolated ? 'cross-origin isolated: tamis runs threads' : 'not cross-origin isolated: tamis runs one thread';
  console.log(`tamis demo: ${origin}/  (${threads}; Ctrl-C stops it)`);
}
