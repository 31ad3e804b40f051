// Builds the npm package's JavaScript into dist/ from js/src (after scripts/build-wasm.sh):
// ESM with .d.ts for bundlers, <script type="module"> and Node, plus classic-script bundles
// for workers and extension service workers (no import(), no eval).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const path = (relative) => new URL(relative, root).pathname;

rmSync(path('dist'), { recursive: true, force: true });
writeShippedPriors();
// tsconfig.json: the maps carry the TypeScript they map to (js/src is not shipped), and the
// .d.ts leave out what is @internal, so the public types never reach the wasm glue's .d.ts
// (it uses Symbol.dispose, which a user's `lib: ["ES2022", "DOM"]` does not declare).
execFileSync(path('node_modules/.bin/tsc'), ['-p', path('tsconfig.json')], { stdio: 'inherit' });
// The single-thread module, and the threaded one (scripts/build-wasm.sh --threads) with the
// worker script of its pool (under snippets/).
for (const folder of ['wasm', 'wasm-threads']) {
  cpSync(path(`js/src/${folder}`), path(`dist/${folder}`), {
    recursive: true,
    filter: (source) => !/(\.gitignore|package\.json)$/.test(source),
  });
}

// The priors of the models tamis ships, which the wasm module leaves out: a load fetches those
// of its model from dist/priors/ (the table that writeShippedPriors writes names them).
cpSync(path('crates/tamis-model/priors'), path('dist/priors'), { recursive: true });

// A classic script cannot import the threaded module's ES modules (nor may an extension's
// service worker call import()): its bundles take threaded.classic.ts, which says so.
const withoutThreadedModule = {
  name: 'without-threaded-module',
  setup(build) {
    build.onResolve({ filter: /^\.\/threaded\.js$/ }, () => ({ path: path('js/src/threaded.classic.ts') }));
  },
};
// In a classic script the default module URL is the script's own location.
const classic = {
  bundle: true,
  format: 'iife',
  target: 'es2022',
  define: { 'import.meta.url': 'self.location.href' },
  plugins: [withoutThreadedModule],
  logLevel: 'warning',
};
await build({ ...classic, entryPoints: [path('js/src/worker.ts')], outfile: path('dist/worker.classic.js') });
await build({
  ...classic,
  entryPoints: [path('js/src/index.ts')],
  outfile: path('dist/tamis.classic.js'),
  globalName: 'tamis',
});
const shipped = ['index.js', 'worker.classic.js', 'tamis.classic.js', 'wasm/tamis_wasm_bg.wasm', 'wasm-threads/tamis_wasm_bg.wasm'];
for (const file of [...shipped, ...readdirSync(path('dist/priors')).map((name) => `priors/${name}`)]) {
  console.log(`dist/${file}: ${(statSync(path(`dist/${file}`)).size / 1e3).toFixed(0)} kB`);
}

/**
 * Writes js/src/shipped-priors.ts (not committed): the table of the priors the package ships,
 * from the files themselves, so that a refit (`tamis prior fit`) cannot leave it stale. Each
 * `crates/tamis-model/priors/<id>.priors` is listed under the model sha256 its header names,
 * which must be one of the files models.json pins for `<id>`; its own sha256 is computed here.
 */
function writeShippedPriors() {
  const folder = 'crates/tamis-model/priors';
  const pinned = new Map(
    JSON.parse(readFileSync(path('models.json'), 'utf8')).models.map((model) => [
      model.manifest.id,
      model.sources.flatMap((source) => Object.values(source.files).map((file) => file.sha256)),
    ]),
  );
  const entries = readdirSync(path(folder))
    .filter((name) => name.endsWith('.priors'))
    .sort()
    .map((file) => {
      const bytes = readFileSync(path(`${folder}/${file}`));
      const id = file.slice(0, -'.priors'.length);
      const model = priorsHeader(bytes, `${folder}/${file}`).model_sha256;
      if (!pinned.get(id)?.includes(model)) {
        throw new Error(
          `${folder}/${file} was fitted for the model file with sha256 ${model}, which models.json does not pin ` +
            `for ${id}: refit them (tamis prior fit) for the model models.json names`,
        );
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      return (
        `  '${model}': {\n    file: '${file}',\n    sha256: '${sha256}',\n` +
        `    location: () => new URL('./priors/${file}', import.meta.url),\n  },\n`
      );
    });
  writeFileSync(
    path('js/src/shipped-priors.ts'),
    `// Written by scripts/build-js.mjs from ${folder}/ and models.json: do not edit.\n` +
      "import type { ShippedPriors } from './priors.js';\n\n" +
      '/** The priors the package ships, by the sha256 of the model file they were fitted for. */\n' +
      `export const SHIPPED_PRIORS: Readonly<Record<string, Readonly<ShippedPriors>>> = {\n${entries.join('')}};\n`,
  );
}

/** The JSON header of a `.priors` file: the magic `TAMISPR1`, its length (u32 LE), the JSON. */
function priorsHeader(bytes, name) {
  if (bytes.subarray(0, 8).toString('latin1') !== 'TAMISPR1') throw new Error(`${name} is not a tamis priors file`);
  return JSON.parse(bytes.subarray(12, 12 + bytes.readUInt32LE(8)).toString('utf8'));
}
