// Builds the npm package's JavaScript into dist/ from js/src (after scripts/build-wasm.sh):
// ESM with .d.ts for bundlers, <script type="module"> and Node, plus classic-script bundles
// for workers and extension service workers (no import(), no eval).
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const path = (relative) => new URL(relative, root).pathname;

rmSync(path('dist'), { recursive: true, force: true });
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
// of its model from dist/priors/ (js/src/priors.ts names them).
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
