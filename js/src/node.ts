/**
 * tamis for Node 20+: the `.wasm` is read from the package; model files can be given as bytes
 * (`readFileSync`) or URLs.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { setDefaultWasm } from './tamis.js';

setDefaultWasm(() => readFileSync(new URL('./wasm/tamis_wasm_bg.wasm', import.meta.url)));

export * from './api.js';
