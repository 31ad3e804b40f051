// How the ES-module entry points (index.ts, worker.ts) import the threaded module, from
// wasm-threads/ beside them. The classic-script bundles (worker.classic.js, tamis.classic.js)
// are built with threaded.classic.ts in place of this file (scripts/build-js.mjs): a classic
// script cannot import ES modules, and an extension's service worker may not even try.
import type { ThreadedModule } from './threads.js';

/** @internal */
export const threadedModule = async (): Promise<ThreadedModule> => ({
  glue: await import('./wasm-threads/tamis_wasm.js'),
  wasm: new URL('./wasm-threads/tamis_wasm_bg.wasm', import.meta.url),
});
