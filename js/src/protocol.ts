// Messages between `TamisWorker` (client.ts) and the worker (serve.ts).
import type { ErrorCode } from './errors.js';
import type { LoadOptions } from './tamis.js';
import type { FusionRequest, LoadProgress, Policy, PolicyEdit } from './types.js';

/** Load options that survive `postMessage`: no callback. */
export type WorkerLoadOptions = Omit<LoadOptions, 'onProgress'>;

export type Request =
  | { op: 'load'; options: WorkerLoadOptions }
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
