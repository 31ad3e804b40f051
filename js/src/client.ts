/**
 * tamis in a Web Worker, behind the same promise-based API as `Tamis`: texts go in, verdicts
 * come out, and the page's thread never runs the model.
 *
 * @example
 * ```ts
 * import { TamisWorker } from 'tamis/client';
 * const worker = new Worker(new URL('tamis/worker', import.meta.url), { type: 'module' });
 * const tamis = await TamisWorker.load(worker, { manifest, model, tokenizer });
 * const classifier = await tamis.classifier(policy);
 * const verdicts = await classifier.classify(posts);
 * ```
 *
 * @packageDocumentation
 */
import { TamisError } from './errors.js';
import type { BytesSource } from './load.js';
import type { Reply, Request, WorkerLoadOptions } from './protocol.js';
import type { ClassifierApi, LoadOptions, TamisApi } from './tamis.js';
import type { Backend, Diagnostics, Embedding, FusionRequest, LoadProgress, Policy, PolicyEdit, RankedCandidate, Verdict } from './types.js';

export { TamisError } from './errors.js';
export type * from './types.js';
export type { LoadOptions, TamisApi, ClassifierApi } from './tamis.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (progress: LoadProgress) => void;
}

/** Sends requests to the worker and matches its replies. */
class Channel {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: TamisError | undefined;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.addEventListener('message', (event: MessageEvent<Reply>) => this.#receive(event.data));
    worker.addEventListener('error', (event: ErrorEvent) => {
      this.#failure = new TamisError('worker_failed', `the tamis worker failed: ${event.message}`);
      for (const pending of this.#pending.values()) pending.reject(this.#failure);
      this.#pending.clear();
    });
  }

  #receive(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    if ('progress' in reply) {
      pending.onProgress?.(reply.progress);
      return;
    }
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new TamisError(reply.error.code, reply.error.message));
  }

  call<T>(request: Request, transfer: Transferable[] = [], onProgress?: (p: LoadProgress) => void): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onProgress });
      this.#worker.postMessage({ id, request }, transfer);
    });
  }
}

/** URLs resolved against this page (the worker's base differs); bytes moved, not copied. */
function forWorker(source: BytesSource, transfer: Transferable[]): BytesSource {
  if (typeof source === 'string' || source instanceof URL) return new URL(source, globalThis.location?.href).href;
  const buffer = source instanceof Uint8Array ? source.buffer : source;
  if (buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
  return source;
}

/** A tamis running in `worker` (started from `tamis/worker` or `worker.classic.js`). */
export class TamisWorker implements TamisApi {
  readonly #channel: Channel;
  readonly backend: Backend;
  readonly dimension: number;
  readonly hasPriors: boolean;

  private constructor(channel: Channel, info: { backend: Backend; dimension: number; hasPriors: boolean }) {
    this.#channel = channel;
    this.backend = info.backend;
    this.dimension = info.dimension;
    this.hasPriors = info.hasPriors;
  }

  /**
   * Loads tamis in `worker`. Byte buffers are transferred to the worker (they are unusable
   * here afterwards); URLs are fetched by the worker, with progress reported here.
   */
  static async load(worker: Worker, options: LoadOptions): Promise<TamisWorker> {
    const channel = new Channel(worker);
    const transfer: Transferable[] = [];
    const { onProgress, ...rest } = options;
    const sent: WorkerLoadOptions = {
      ...rest,
      manifest: forWorker(rest.manifest, transfer),
      model: forWorker(rest.model, transfer),
      tokenizer: forWorker(rest.tokenizer, transfer),
      ...(rest.wasm === undefined ? {} : { wasm: forWorker(rest.wasm, transfer) }),
    };
    const info = await channel.call<{ backend: Backend; dimension: number; hasPriors: boolean }>(
      { op: 'load', options: sent },
      transfer,
      onProgress,
    );
    return new TamisWorker(channel, info);
  }

  embed(texts: string[]): Promise<Embedding[]> {
    return this.#channel.call({ op: 'embed', texts });
  }

  async classifier(policy: Policy | string): Promise<ClassifierApi> {
    const handle = await this.#channel.call<number>({ op: 'classifier', policy });
    const channel = this.#channel;
    return {
      classify: (texts: string[]) => channel.call<Verdict[]>({ op: 'classify', handle, texts }),
      edit: (edit: PolicyEdit) => channel.call<void>({ op: 'edit', handle, edit }),
      policy: () => channel.call<Policy>({ op: 'policy', handle }),
      dispose: () => channel.call<void>({ op: 'dispose_classifier', handle }),
    };
  }

  fuse(request: FusionRequest): Promise<RankedCandidate[]> {
    return this.#channel.call({ op: 'fuse', request });
  }

  memoryBytes(): Promise<number> {
    return this.#channel.call({ op: 'memory' });
  }

  diagnostics(): Promise<Diagnostics> {
    return this.#channel.call({ op: 'diagnostics' });
  }

  /** As `Tamis.releaseGpu`, in the worker. */
  releaseGpu(): Promise<void> {
    return this.#channel.call({ op: 'release_gpu' });
  }

  /** Frees the model in the worker; the worker itself stays yours to terminate. */
  dispose(): Promise<void> {
    return this.#channel.call({ op: 'dispose' });
  }
}
