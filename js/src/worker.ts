/**
 * The worker side of `TamisWorker`. Start it as a module worker:
 * `new Worker(new URL('tamis/worker', import.meta.url), { type: 'module' })`, or as a classic
 * worker from `worker.classic.js` (no `import()`, no `eval`: fine under an extension's CSP).
 *
 * @packageDocumentation
 */
import { setPlatform } from './platform.js';
import { threadedModule } from './threaded.js';
import { serve } from './serve.js';

setPlatform({ wasm: () => new URL('./wasm/tamis_wasm_bg.wasm', import.meta.url), threaded: threadedModule });
serve(self as unknown as Parameters<typeof serve>[0]);
