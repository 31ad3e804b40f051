import initWasm, {
  fuse as wasmFuse,
  Model,
  PolicyClassifier as WasmClassifier,
  takePanicMessage,
} from './wasm/tamis_wasm.js';
import { asTamisError, type InternalCode, TamisError } from './errors.js';
import { type BytesSource, loadBytes, parseManifest } from './load.js';
import type {
  Backend,
  BackendPreference,
  Diagnostics,
  Embedding,
  FusionRequest,
  LoadProgress,
  Policy,
  PolicyEdit,
  RankedCandidate,
  Verdict,
} from './types.js';

/** How to load tamis. Nothing is fetched that is not named here. */
export interface LoadOptions {
  /** `model.onnx`: bytes, or a URL to fetch. */
  model: BytesSource;
  /** `tokenizer.json`: bytes, or a URL. */
  tokenizer: BytesSource;
  /** `manifest.json` of the bundle (its sha256 values check the other two): bytes, or a URL. */
  manifest: BytesSource;
  /**
   * `auto` (default): the GPU (WebGPU) on a hardware adapter where the model's shaders
   * compile, the CPU (wasm) otherwise; `gpu` insists (`backend_unavailable` without it); `cpu`
   * never asks for a GPU. `tamis.backend` and `tamis.diagnostics()` say which one runs, and why.
   */
  backend?: BackendPreference;
  /** Keep fetched model files in the Cache API for the next load. Default true. */
  cache?: boolean;
  /** The tamis `.wasm` module; by default the one shipped beside this file. */
  wasm?: BytesSource;
  onProgress?: (progress: LoadProgress) => void;
}

/** The operations of a loaded tamis, the same on the main thread and through a worker. */
export interface TamisApi {
  /** The backend that runs the model (through a worker: at load; `diagnostics()` is current). */
  readonly backend: Backend;
  readonly dimension: number;
  /** Built-in priors for `toxic`, `spam` and `negative` are available. */
  readonly hasPriors: boolean;
  embed(texts: string[]): Promise<Embedding[]>;
  /** A classifier for `policy` (an object or its JSON); it validates the policy first. */
  classifier(policy: Policy | string): Promise<ClassifierApi>;
  fuse(request: FusionRequest): Promise<RankedCandidate[]>;
  /** Bytes of wasm memory in use (it grows, never shrinks): for soak tests and monitoring. */
  memoryBytes(): Promise<number>;
  /** The backend running now, why, and the WebGPU adapter found. */
  diagnostics(): Promise<Diagnostics>;
  /**
   * Releases the GPU device as a device loss would: later calls run on wasm. For pages that
   * need the GPU back, and to test the fallback. Does nothing on wasm.
   */
  releaseGpu(): Promise<void>;
  dispose(): Promise<void>;
}

/** A policy being applied. */
export interface ClassifierApi {
  /** Verdicts for `texts`, in order. */
  classify(texts: string[]): Promise<Verdict[]>;
  /** Applies one edit; a refused edit throws and changes nothing. */
  edit(edit: PolicyEdit): Promise<void>;
  /** The current policy, to save. */
  policy(): Promise<Policy>;
  dispose(): Promise<void>;
}

let wasmReady: Promise<void> | undefined;
let wasmMemory: WebAssembly.Memory | undefined;
/** Where the shipped `.wasm` is; each entry point (web, Node, classic script) sets its own. */
let defaultWasm: () => BytesSource = () => {
  throw new TamisError('invalid_argument', 'no default wasm module here; pass options.wasm');
};

/** @internal Called by the entry points. */
export function setDefaultWasm(source: () => BytesSource): void {
  defaultWasm = source;
}
/** Set once the wasm module trapped: its memory may be inconsistent, so nothing runs again. */
let broken: string | undefined;

/**
 * Runs a call into the wasm module. A Rust panic arrives as a `WebAssembly.RuntimeError`
 * (`unreachable`); it becomes an `internal_error` and marks the module unusable.
 */
export function guard<T>(call: () => T): T {
  ensureUsable();
  try {
    return call();
  } catch (error) {
    throw reported(error);
  }
}

/** `guard` for the module's asynchronous calls. */
async function guardAsync<T>(call: () => Promise<T>): Promise<T> {
  ensureUsable();
  try {
    return await call();
  } catch (error) {
    throw reported(error);
  }
}

function ensureUsable(): void {
  if (broken !== undefined) {
    throw new TamisError(
      'instance_broken',
      `an earlier internal error (${broken}) left tamis unusable in this context; ` +
        'load it again in a new worker or page',
    );
  }
}

/** The error to report for what a call into the module threw; a trap breaks the module. */
function reported(error: unknown): TamisError {
  if (!(error instanceof WebAssembly.RuntimeError)) return asTamisError(error);
  let panic: string | undefined;
  try {
    panic = takePanicMessage();
  } catch {
    // The module is past reading its own state; the trap's message has to do.
  }
  broken = panic ?? error.message;
  return new TamisError(
    'internal_error',
    `tamis hit an internal error, a bug to report: ${broken}. ` +
      'This tamis can no longer be used; load it again in a new worker or page.',
    { cause: error },
  );
}

/**
 * Runs the calls on one model, one at a time. On WebGPU a call runs in rounds: a round that
 * needs embeddings not computed yet fails with `needs_embeddings`, they are computed on the GPU
 * (asynchronously), and the call runs again (see crates/tamis-wasm/src/backend.rs). Each round
 * computes at least one new embedding, and a call has at most a few embedding steps.
 */
class ModelRunner {
  static readonly #maxRounds = 8;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(readonly model: Model) {}

  /** Frees the model once the calls already queued are answered; later calls are refused. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await this.#queue;
    if (broken === undefined) this.model.free();
  }

  run<T>(call: (model: Model) => T): Promise<T> {
    const result = this.#queue.then(() => this.#rounds(call));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #rounds<T>(call: (model: Model) => T): Promise<T> {
    if (this.#disposed) throw new TamisError('disposed', 'this Tamis was disposed; load a new one');
    try {
      for (let round = 1; ; round++) {
        try {
          return guard(() => call(this.model));
        } catch (error) {
          if ((error as { code?: string }).code !== ('needs_embeddings' satisfies InternalCode)) throw error;
          if (round === ModelRunner.#maxRounds) {
            throw new TamisError('internal_error', `a call still needed embeddings after ${round} rounds`);
          }
          await guardAsync(() => this.model.embedPending() as Promise<void>);
        }
      }
    } finally {
      if (broken === undefined) this.model.clearStaged();
    }
  }
}

async function ensureWasm(source: BytesSource, onProgress?: (p: LoadProgress) => void): Promise<void> {
  wasmReady ??= (async () => {
    const bytes = await loadBytes(source, 'wasm', { cache: false, onProgress });
    wasmMemory = (await initWasm({ module_or_path: bytes as Uint8Array<ArrayBuffer> })).memory;
  })().catch((error: unknown) => {
    wasmReady = undefined;
    throw asTamisError(error);
  });
  return wasmReady;
}

/** Throws when `owner` was disposed. */
function live<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new TamisError('disposed', `this ${what} was disposed; create a new one`);
  return value;
}

/**
 * tamis on the current thread. Compute is synchronous inside; for a responsive page, use the
 * same API from a worker (`tamis/client`).
 *
 * @example
 * ```ts
 * const tamis = await Tamis.load({ manifest: 'models/manifest.json', model: 'models/model.onnx',
 *   tokenizer: 'models/tokenizer.json', onProgress: (p) => console.log(p.file, p.loaded, p.total) });
 * const classifier = await tamis.classifier(policy);
 * const [verdict] = await classifier.classify(['WINNER! Claim your prize']);
 * verdict.action; // 'hide'
 * ```
 */
export class Tamis implements TamisApi {
  #runner: ModelRunner | undefined;
  readonly #classifiers = new Set<Classifier>();
  #backend: Backend;
  readonly dimension: number;
  readonly hasPriors: boolean;

  private constructor(model: Model) {
    this.#runner = new ModelRunner(model);
    this.#backend = model.backend as Backend;
    this.dimension = model.dimension;
    this.hasPriors = model.hasPriors;
  }

  /** The backend running now: after a GPU failure, `cpu`. */
  get backend(): Backend {
    const model = this.#runner?.model;
    if (model !== undefined && broken === undefined) this.#backend = model.backend as Backend;
    return this.#backend;
  }

  /** Loads the wasm module and the model, checking the model files against the manifest. */
  static async load(options: LoadOptions): Promise<Tamis> {
    const fetchOptions = { cache: options.cache ?? true, onProgress: options.onProgress };
    // The module compiles while the model files are fetched and hashed (both off this thread).
    const modelFiles = (async () => {
      const manifestBytes = await loadBytes(options.manifest, 'manifest', { ...fetchOptions, cache: false });
      const manifest = parseManifest(manifestBytes);
      const [model, tokenizer] = await Promise.all([
        loadBytes(options.model, 'model', fetchOptions, manifest.files['model.onnx']?.sha256),
        loadBytes(options.tokenizer, 'tokenizer', fetchOptions, manifest.files['tokenizer.json']?.sha256),
      ]);
      return { manifestBytes, model, tokenizer };
    })();
    const [, { manifestBytes, model, tokenizer }] = await Promise.all([
      ensureWasm(options.wasm ?? defaultWasm(), options.onProgress),
      modelFiles,
    ]);
    // Both files were checked against the manifest above, with Web Crypto (10x faster than
    // hashing inside wasm), so the module skips its own check.
    const backend = options.backend ?? 'auto';
    return new Tamis(await guardAsync(() => Model.load(manifestBytes, model, tokenizer, true, backend)));
  }

  async embed(texts: string[]): Promise<Embedding[]> {
    const embeddings = await live(this.#runner, 'Tamis').run(
      (model) => model.embed(texts) as Array<Omit<Embedding, 'vector'> & { vector: Float32Array }>,
    );
    return embeddings.map((embedding) => ({ ...embedding, vector: Array.from(embedding.vector) }));
  }

  async classifier(policy: Policy | string): Promise<Classifier> {
    const runner = live(this.#runner, 'Tamis');
    const json = typeof policy === 'string' ? policy : JSON.stringify(policy);
    const wasmClassifier = guard(() => new WasmClassifier(runner.model, json));
    const classifier = new Classifier(runner, wasmClassifier, this.#classifiers);
    this.#classifiers.add(classifier);
    return classifier;
  }

  async fuse(request: FusionRequest): Promise<RankedCandidate[]> {
    return live(this.#runner, 'Tamis').run((model) => model.fuse(request) as RankedCandidate[]);
  }

  async memoryBytes(): Promise<number> {
    return wasmMemory?.buffer.byteLength ?? 0;
  }

  async diagnostics(): Promise<Diagnostics> {
    const model = live(this.#runner, 'Tamis').model;
    return guard(() => model.diagnostics as Diagnostics);
  }

  async releaseGpu(): Promise<void> {
    const model = live(this.#runner, 'Tamis').model;
    guard(() => model.releaseGpu());
  }

  /** Frees the model and every classifier made from it. */
  async dispose(): Promise<void> {
    for (const classifier of this.#classifiers) await classifier.dispose();
    const runner = this.#runner;
    this.#runner = undefined;
    await runner?.dispose();
  }
}

/** A policy applied with a model; made by `Tamis.classifier`. */
export class Classifier implements ClassifierApi {
  #runner: ModelRunner | undefined;
  #classifier: WasmClassifier | undefined;
  readonly #owner: Set<Classifier>;

  /** @internal */
  constructor(runner: ModelRunner, classifier: WasmClassifier, owner: Set<Classifier>) {
    this.#runner = runner;
    this.#classifier = classifier;
    this.#owner = owner;
  }

  async classify(texts: string[]): Promise<Verdict[]> {
    const runner = live(this.#runner, 'classifier');
    return runner.run((model) => live(this.#classifier, 'classifier').classify(model, texts) as Verdict[]);
  }

  async edit(edit: PolicyEdit): Promise<void> {
    const classifier = live(this.#classifier, 'classifier');
    guard(() => classifier.edit(edit));
  }

  async policy(): Promise<Policy> {
    const classifier = live(this.#classifier, 'classifier');
    return JSON.parse(guard(() => classifier.policyJson())) as Policy;
  }

  async dispose(): Promise<void> {
    const classifier = this.#classifier;
    this.#classifier = undefined;
    this.#runner = undefined;
    this.#owner.delete(this);
    if (classifier !== undefined && broken === undefined) classifier.free();
  }
}

/**
 * Fuses ranked lists without loading a model: classical fusion only (content-aware fusion, with
 * a query or preferences over item texts, needs `Tamis.fuse`).
 *
 * @example
 * ```ts
 * const fused = await fuseLists({ method: 'rrf', lists: [
 *   { name: 'bm25', items: [{ id: 'a' }, { id: 'b' }] },
 *   { name: 'dense', items: [{ id: 'b' }, { id: 'c' }] } ] });
 * fused[0].id; // 'b'
 * ```
 */
export async function fuseLists(request: FusionRequest, wasm?: BytesSource): Promise<RankedCandidate[]> {
  await ensureWasm(wasm ?? defaultWasm());
  return guard(() => wasmFuse(request) as RankedCandidate[]);
}
