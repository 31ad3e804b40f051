import { Tamis } from 'tamis';
import { bundleFiles as bytes } from '/work/main/scripts/bundle.mjs';
const b = bytes();
const t0 = performance.now();
const tamis = await Tamis.load({ ...b, backend: 'wasm' });
await tamis.embed(['hello']);
console.log('cold ms', performance.now()-t0);
