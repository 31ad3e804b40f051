// Copies what the extension packages into vendor/ (not committed): the tamis package's ES
// modules with its two wasm modules (vendor/tamis/) and the model bundles asked for, each from
// models/<name>/ (its manifest and the files the manifest names), with vendor/models.json
// listing them for the options page.
// Run after `npm run build` and the bundles' preparation (scripts/prepare-model.py):
//   node examples/browser-extension/package.mjs                          # minilm-l6-int8 only
//   node examples/browser-extension/package.mjs --model e5-small-q4      # the multilingual one
//   node examples/browser-extension/package.mjs --model minilm-l6-int8 --model e5-small-q4
// Each bundle is packaged whole (the extension fetches nothing), so each one chosen adds its
// size: the first listed is the one the extension starts with.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const here = new URL('./', import.meta.url);
const root = new URL('../../', import.meta.url);
const vendor = new URL('vendor/', here);
const catalogue = JSON.parse(readFileSync(new URL('models.json', root), 'utf8')).models;

const { values } = parseArgs({ options: { model: { type: 'string', multiple: true, default: ['minilm-l6-int8'] } } });
const names = [...new Set(values.model)];
for (const name of names) {
  if (!catalogue.some((model) => model.manifest.id === name)) {
    const known = catalogue.map((model) => model.manifest.id).join(', ');
    console.error(`package.mjs: unknown model ${JSON.stringify(name)}; the models are ${known}`);
    process.exit(2);
  }
}

mkdirSync(vendor, { recursive: true });
// The package's ES modules and both wasm modules, for the offscreen document's worker; no
// types or source maps. (Earlier versions packaged the classic script instead.)
for (const old of ['tamis.classic.js', 'tamis_wasm_bg.wasm', 'tamis/']) rmSync(new URL(old, vendor), { recursive: true, force: true });
cpSync(new URL('dist/', root), new URL('tamis/', vendor), {
  recursive: true,
  filter: (source) => !/\.(d\.ts|map)$/.test(source) && !/\.classic\.js$/.test(source),
});
// Bundles packaged before and not asked for now leave.
rmSync(new URL('model/', vendor), { recursive: true, force: true });
rmSync(new URL('models/', vendor), { recursive: true, force: true });

const packaged = names.map((name) => {
  const source = new URL(`models/${name}/`, root);
  const target = new URL(`models/${name}/`, vendor);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('manifest.json', source), 'utf8'));
  } catch {
    console.error(`package.mjs: models/${name} is not prepared; run python3 scripts/prepare-model.py --model ${name}`);
    process.exit(1);
  }
  mkdirSync(target, { recursive: true });
  let bytes = 0;
  for (const file of ['manifest.json', ...Object.keys(manifest.files)]) {
    cpSync(new URL(file, source), new URL(file, target));
    bytes += statSync(new URL(file, target)).size;
  }
  const { languages } = catalogue.find((model) => model.manifest.id === name);
  return { name, description: manifest.name, languages, bytes };
});
writeFileSync(new URL('models.json', vendor), `${JSON.stringify(packaged, null, 2)}\n`);

const folderBytes = (url) => readdirSync(url, { recursive: true })
  .map((path) => statSync(new URL(path, url)))
  .reduce((sum, entry) => sum + (entry.isFile() ? entry.size : 0), 0);
const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
for (const model of packaged) console.log(`packaged ${model.name}: ${megabytes(model.bytes)}`);
console.log(`vendor/ holds ${megabytes(folderBytes(vendor))}; extension ready to load unpacked: ${here.pathname}`);
