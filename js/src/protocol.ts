// Messages between `TamisWorker` (client.ts) and the worker (serve.ts).
import type { ErrorCode } from './errors.js';
import type { BundleFiles, NamedModel } from './load.js';
import type { LoadSettings } from './tamis.js';
import type { FusionRequest, LoadProgress, Policy, PolicyEdit } from './types.js';

/**
 * Load options that survive `postMessage`: no callback, no signal, URLs absolute (a model by
 * name with the client's base URL, since the worker's `env` and base differ).
 */
export type WorkerLoadOptions = Omit<LoadSettings, 'onProgress' | 'signal'> & (NamedModel | BundleFiles);

export type Request =
  | { op: 'load'; options: WorkerLoadOptions }
  /** Aborts the load request `target`; answered by nothing (the load rejects with `aborted`). */
  | { op: 'abort'; target: number }
  | { op: 'embed'; texts: string[] }
  | { op: 'classifier'; policy: Policy | string }
  | { op: 'classify'; handle: number; texts: string[] }
  | { op: 'edit'; handle: number; edit: PolicyEdit }
  | { op: 'policy'; handle: number }
  | { op: 'dispose_classifier'; handle: number }
  | { op: 'fuse'; request: FusionRequest }
  | { op: 'memory' }
  | { op: 'diagnostics' }
  | { op: 'release_gpu' }
  | { op: 'dispose' };

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: ErrorCode; message: string } }
  | { id: number; progress: LoadProgress };
