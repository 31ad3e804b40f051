// What differs between the hosts tamis runs on (browsers and workers, Node, classic scripts):
// each entry point installs its own before anything loads.
import { TamisError } from './errors.js';
import type { ThreadedModule } from './threads.js';
import type { ThreadsReason } from './types.js';

/** Bytes given directly, or where to get them: a URL (in Node also a path). */
export type BytesSource = Uint8Array | ArrayBuffer | URL | string;

/** @internal */
export interface Platform {
  /** The tamis `.wasm` shipped beside the entry point. */
  wasm(): BytesSource;
  /**
   * The absolute URL a location names: browsers resolve it against the page; Node takes a
   * path (relative to the working directory) or a URL.
   */
  resolve(location: string | URL): URL;
  /** Reads a `file:` URL (Node); where this is absent, every URL goes through `fetch`. */
  readFile?: (url: URL, signal: AbortSignal) => Promise<Uint8Array>;
  /**
   * Imports the threaded module (ES-module entry points in browsers), or why this host cannot
   * run it (`node`, `classic_script`).
   */
  threaded: (() => Promise<ThreadedModule>) | ThreadsReason;
}

/** Browsers, workers and bundlers: relative URLs are relative to the page (or worker script). */
let platform: Platform = {
  wasm: () => {
    throw new TamisError('invalid_argument', 'no default wasm module here; pass options.wasm');
  },
  resolve: (location) => new URL(location, globalThis.location?.href),
  // Until an ES-module entry point says how to import it (the classic bundles never do).
  threaded: 'classic_script',
};

/** @internal Called by the entry points. */
export function setPlatform(changes: Partial<Platform>): void {
  platform = { ...platform, ...changes };
}

/** @internal */
export function currentPlatform(): Platform {
  return platform;
}
