// Which wasm module a load runs on: the single-thread one (the default, runs anywhere) or the
// threaded one, whose pool of Web Workers shares the module's memory. The threaded module needs
// what only a cross-origin isolated worker has, so `Tamis.load` checks for it here and falls
// back to the single-thread module with the reason, which `tamis.diagnostics()` reports.
import type * as SingleThreadGlue from './wasm/tamis_wasm.js';
import { describe } from './arguments.js';
import { TamisError } from './errors.js';
import { currentPlatform } from './platform.js';
import type { ThreadsReason } from './types.js';

type SingleThread = typeof SingleThreadGlue;

/**
 * What tamis uses of a wasm-bindgen glue of the tamis module: the single-thread one, or the
 * threaded one (the same bindings; their glue's own internals differ).
 */
export interface Glue {
  /** Instantiates the module from its bytes; resolves to its exports. */
  default(init: { module_or_path: Uint8Array<ArrayBuffer> }): Promise<{ memory: WebAssembly.Memory }>;
  Model: SingleThread['Model'];
  PolicyClassifier: SingleThread['PolicyClassifier'];
  fuse: SingleThread['fuse'];
  takePanicMessage: SingleThread['takePanicMessage'];
}

/** The threaded module's glue: the same API, and the call that starts its pool of workers. */
export type ThreadedGlue = Glue & {
  /**
   * Starts the Web Workers that, with the calling thread, make `count` threads sharing the
   * module's memory (`count - 1` of them, at least one); once per context.
   */
  startThreads(count: number): Promise<void>;
};

/** The threaded module, for the entry points that can import it (ES modules in a browser). */
export interface ThreadedModule {
  glue: ThreadedGlue;
  /** Its `.wasm`, beside its glue. */
  wasm: URL;
}

/**
 * Workers `auto` asks for at most: the products of a call are split in as many parts, and past
 * four the parts are small enough that waiting for the slowest worker eats the gain.
 */
export const AUTO_THREADS_MAX = 4;

/** The count `option` asks for: 1 by default; `auto` is the host's cores, at most `AUTO_THREADS_MAX`. */
export function threadsAsked(option: unknown, method: string): number {
  if (option === undefined) return 1;
  if (option === 'auto') {
    const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
    return Math.max(1, Math.min(cores, AUTO_THREADS_MAX));
  }
  if (typeof option === 'number' && Number.isInteger(option) && option >= 1 && option <= 64) return option;
  throw new TamisError(
    'invalid_argument',
    `${method}: options.threads is ${typeof option === 'number' ? option : describe(option)}; pass a whole number from 1 to 64, or 'auto'`,
  );
}

/**
 * Whether this context can run `asked` threads: `asked` when it can, else why not. The threaded
 * module needs shared memory (only where the page or extension is cross-origin isolated), a
 * thread allowed to wait for others (a worker: never a page's main thread), and Web Workers to
 * start (no service worker, no Node); and an entry point that can import it.
 */
export function threadsPlan(asked: number): ThreadsReason {
  if (asked === 1) return 'one_asked';
  const threaded = currentPlatform().threaded;
  if (typeof threaded === 'string') return threaded;
  const host = globalThis as { crossOriginIsolated?: boolean; WorkerGlobalScope?: unknown; Worker?: unknown };
  if (host.crossOriginIsolated !== true) return 'not_cross_origin_isolated';
  if (typeof SharedArrayBuffer === 'undefined') return 'no_shared_memory';
  if (host.WorkerGlobalScope === undefined) return 'main_thread';
  if (host.Worker === undefined) return 'no_workers';
  return 'asked';
}
