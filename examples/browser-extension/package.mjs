// Copies what the extension packages into vendor/ (not committed): the tamis classic script,
// its wasm module and the model bundle. Run after `npm run build` and scripts/setup.sh:
//   node examples/browser-extension/package.mjs
import { cpSync, mkdirSync } from 'node:fs';

const here = new URL('./', import.meta.url);
const root = new URL('../../', import.meta.url);
const vendor = new URL('vendor/', here);
mkdirSync(new URL('model/', vendor), { recursive: true });
cpSync(new URL('dist/tamis.classic.js', root), new URL('tamis.classic.js', vendor));
cpSync(new URL('dist/wasm/tamis_wasm_bg.wasm', root), new URL('tamis_wasm_bg.wasm', vendor));
for (const name of ['manifest.json', 'model.onnx', 'tokenizer.json']) {
  cpSync(new URL(`models/minilm-l6-int8/${name}`, root), new URL(`model/${name}`, vendor));
}
console.log(`extension ready to load unpacked: ${here.pathname}`);
