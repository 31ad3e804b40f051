/**
 * tamis for browsers, workers and bundlers: on-device content classification and rank fusion.
 * The `.wasm` ships beside this file and is fetched from there unless `options.wasm` says
 * otherwise; model files are fetched only from the URLs you pass (or, for a model by name,
 * from `env.baseUrl`).
 *
 * @packageDocumentation
 */
import { setPlatform } from './platform.js';
import { threadedModule } from './threaded.js';

setPlatform({ wasm: () => new URL('./wasm/tamis_wasm_bg.wasm', import.meta.url), threaded: threadedModule });

export * from './api.js';
