/**
 * tamis in a Web Worker, behind the same promise-based API as `Tamis`: texts go in, verdicts
 * come out, and the page's thread never runs the model.
 *
 * @example
 * ```ts
 * import { TamisWorker } from 'tamis/client';
 * const worker = new Worker(new URL('tamis/worker', import.meta.url), { type: 'module' });
 * const tamis = await TamisWorker.load(worker, { model: 'minilm-l6-int8', baseUrl: '/models/' });
 * const classifier = await tamis.classifier(policy);
 * const verdicts = await classifier.classify(posts);
 * ```
 *
 * @packageDocumentation
 */
import { checkObject, checkTexts, EDIT_EXAMPLE, FUSION_EXAMPLE, policyJson } from './arguments.js';
import { abortedError, TamisError } from './errors.js';
import { type BytesSource, locateBundle } from './load.js';
import { currentPlatform } from './platform.js';
import type { Reply, Request, WorkerLoadOptions } from './protocol.js';
import type { ClassifierApi, LoadOptions, TamisApi } from './tamis.js';
import type { Backend, Diagnostics, Embedding, FusionRequest, LoadProgress, Policy, PolicyEdit, RankedCandidate, Verdict } from './types.js';

export { TamisError } from './errors.js';
export { env } from './env.js';
export type { ErrorCode } from './errors.js';
export type * from './types.js';
export type { LoadOptions, LoadSettings, TamisApi, ClassifierApi } from './tamis.js';
export type { ArchitectureFiles, BundleFiles, BytesSource, NamedModel } from './load.js';

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
    // Replies to abandoned requests (an aborted load) and to `abort` itself find nothing.
    if (pending === undefined) return;
    if ('progress' in reply) {
      pending.onProgress?.(reply.progress);
      return;
    }
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new TamisError(reply.error.code, reply.error.message));
  }

  /**
   * Sends `request`; `method` names the public call in errors. When `signal` aborts, the call
   * rejects with `aborted` at once, its progress stops, and the worker is told to stop it.
   */
  call<T>(
    request: Request,
    method: string,
    options: { transfer?: Transferable[]; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const abort = () => {
        if (!this.#pending.delete(id)) return;
        reject(abortedError(signal?.reason));
        this.#post({ op: 'abort', target: id }, 0, []);
      };
      const settle = <V>(finish: (value: V) => void) => (value: V) => {
        signal?.removeEventListener('abort', abort);
        finish(value);
      };
      this.#pending.set(id, { resolve: settle(resolve as (value: unknown) => void), reject: settle(reject), onProgress: options.onProgress });
      signal?.addEventListener('abort', abort, { once: true });
      try {
        this.#post(request, id, options.transfer ?? []);
      } catch (error) {
        this.#pending.delete(id);
        signal?.removeEventListener('abort', abort);
        // postMessage refuses what it cannot clone (functions, class instances with private state).
        reject(new TamisError('invalid_argument', `${method}: the arguments cannot be sent to the worker: ${String(error)}`));
      }
    });
  }

  #post(request: Request, id: number, transfer: Transferable[]): void {
    this.#worker.postMessage({ id, request }, transfer);
  }
}

/** An absolute URL (the worker's base differs from the page's), or bytes, moved, not copied. */
function forWorker(source: BytesSource, transfer: Transferable[]): BytesSource {
  if (typeof source === 'string' || source instanceof URL) return currentPlatform().resolve(source).href;
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
   * Loads tamis in `worker`, with the options of `Tamis.load`. Byte buffers are transferred
   * to the worker (they are unusable here afterwards); URLs, and a model by name (resolved
   * against this page's `env.baseUrl`), are fetched by the worker, with progress reported here.
   *
   * @example
   * ```ts
   * const worker = new Worker(new URL('tamis/worker', import.meta.url), { type: 'module' });
   * const tamis = await TamisWorker.load(worker, { model: 'minilm-l6-int8', signal: AbortSignal.timeout(60_000) });
   * // multilingual: the manifest, then model.e5s (no tokenizer file)
   * const e5 = await TamisWorker.load(worker, { model: 'e5-small-q4', baseUrl: '/models/' });
   * ```
   */
  static async load(worker: Worker, options: LoadOptions): Promise<TamisWorker> {
    const method = 'TamisWorker.load(worker, options)';
    checkObject(options, method, "{ model: 'minilm-l6-int8' }");
    const channel = new Channel(worker);
    const transfer: Transferable[] = [];
    const location = locateBundle(options, method);
    const bundle =
      'files' in location
        ? {
            manifest: forWorker(location.files.manifest, transfer),
            model: forWorker(location.files.model, transfer),
            tokenizer: location.files.tokenizer === undefined ? undefined : forWorker(location.files.tokenizer, transfer),
          }
        : { model: location.name, baseUrl: location.base.href };
    const sent: WorkerLoadOptions = {
      backend: options.backend,
      cache: options.cache,
      threads: options.threads,
      wasm: options.wasm === undefined ? undefined : forWorker(options.wasm, transfer),
      priors: options.priors === undefined || options.priors === false ? options.priors : forWorker(options.priors, transfer),
      ...bundle,
    };
    const info = await channel.call<{ backend: Backend; dimension: number; hasPriors: boolean }>(
      { op: 'load', options: sent },
      method,
      { transfer, onProgress: options.onProgress, signal: options.signal },
    );
    return new TamisWorker(channel, info);
  }

  async embed(texts: string[]): Promise<Embedding[]> {
    const method = 'tamis.embed(texts)';
    return this.#channel.call({ op: 'embed', texts: checkTexts(texts, method) }, method);
  }

  async classifier(policy: Policy | string): Promise<ClassifierApi> {
    const method = 'tamis.classifier(policy)';
    const handle = await this.#channel.call<number>({ op: 'classifier', policy: policyJson(policy, method) }, method);
    const channel = this.#channel;
    return {
      classify: async (texts: string[]) => {
        const call = 'classifier.classify(texts)';
        return channel.call<Verdict[]>({ op: 'classify', handle, texts: checkTexts(texts, call) }, call);
      },
      edit: async (edit: PolicyEdit) => {
        const call = 'classifier.edit(edit)';
        return channel.call<void>({ op: 'edit', handle, edit: checkObject(edit, call, EDIT_EXAMPLE) }, call);
      },
      policy: () => channel.call<Policy>({ op: 'policy', handle }, 'classifier.policy()'),
      dispose: () => channel.call<void>({ op: 'dispose_classifier', handle }, 'classifier.dispose()'),
    };
  }

  async fuse(request: FusionRequest): Promise<RankedCandidate[]> {
    const method = 'tamis.fuse(request)';
    return this.#channel.call({ op: 'fuse', request: checkObject(request, method, FUSION_EXAMPLE) }, method);
  }

  memoryBytes(): Promise<number> {
    return this.#channel.call({ op: 'memory' }, 'tamis.memoryBytes()');
  }

  diagnostics(): Promise<Diagnostics> {
    return this.#channel.call({ op: 'diagnostics' }, 'tamis.diagnostics()');
  }

  /** As `Tamis.releaseGpu`, in the worker. */
  releaseGpu(): Promise<void> {
    return this.#channel.call({ op: 'release_gpu' }, 'tamis.releaseGpu()');
  }

  /** Frees the model in the worker; the worker itself stays yours to terminate. */
  dispose(): Promise<void> {
    return this.#channel.call({ op: 'dispose' }, 'tamis.dispose()');
  }
}
