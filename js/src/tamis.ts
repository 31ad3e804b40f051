import initWasm, {
  fuse as wasmFuse,
  Model,
  PolicyClassifier as WasmClassifier,
  takePanicMessage,
} from './wasm/tamis_wasm.js';
import { asTamisError, TamisError } from './errors.js';
import { type BytesSource, loadBytes, parseManifest } from './load.js';
import type {
  Backend,
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
  /** `auto` (default) takes the best backend there is; `tamis.backend` says which one ran. */
  backend?: 'auto' | 'wasm' | 'webgpu';
  /** Keep fetched model files in the Cache API for the next load. Default true. */
  cache?: boolean;
  /** The tamis `.wasm` module; by default the one shipped beside this file. */
  wasm?: BytesSource;
  onProgress?: (progress: LoadProgress) => void;
}

/** The operations of a loaded tamis, the same on the main thread and through a worker. */
export interface TamisApi {
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
  if (broken !== undefined) {
    throw new TamisError(
      'instance_broken',
      `an earlier internal error (${broken}) left tamis unusable in this context; ` +
        'load it again in a new worker or page',
    );
  }
  try {
    return call();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      let panic: string | undefined;
      try {
        panic = takePanicMessage();
      } catch {
        // The module is past reading its own state; the trap's message has to do.
      }
      broken = panic ?? error.message;
      throw new TamisError(
        'internal_error',
        `tamis hit an internal error, a bug to report: ${broken}. ` +
          'This tamis can no longer be used; load it again in a new worker or page.',
        { cause: error },
      );
    }
    throw asTamisError(error);
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
  #model: Model | undefined;
  readonly #classifiers = new Set<Classifier>();
  readonly backend: Backend;
  readonly dimension: number;
  readonly hasPriors: boolean;

  private constructor(model: Model) {
    this.#model = model;
    this.backend = model.backend as Backend;
    this.dimension = model.dimension;
    this.hasPriors = model.hasPriors;
  }

  /** Loads the wasm module and the model, checking the model files against the manifest. */
  static async load(options: LoadOptions): Promise<Tamis> {
    if (options.backend === 'webgpu') {
      throw new TamisError(
        'backend_unavailable',
        'the WebGPU backend is not in this build; use backend "auto" or "wasm"',
      );
    }
    const fetchOptions = { cache: options.cache ?? true, onProgress: options.onProgress };
    const [manifestBytes] = await Promise.all([
      loadBytes(options.manifest, 'manifest', { ...fetchOptions, cache: false }),
      ensureWasm(options.wasm ?? defaultWasm(), options.onProgress),
    ]);
    const manifest = parseManifest(manifestBytes);
    const [model, tokenizer] = await Promise.all([
      loadBytes(options.model, 'model', fetchOptions, manifest.files['model.onnx']?.sha256),
      loadBytes(options.tokenizer, 'tokenizer', fetchOptions, manifest.files['tokenizer.json']?.sha256),
    ]);
    // Both files were checked against the manifest above, with Web Crypto (10x faster than
    // hashing inside wasm), so the module skips its own check.
    return new Tamis(guard(() => new Model(manifestBytes, model, tokenizer, true)));
  }

  async embed(texts: string[]): Promise<Embedding[]> {
    const model = live(this.#model, 'Tamis');
    return guard(() => model.embed(texts) as Embedding[]);
  }

  async classifier(policy: Policy | string): Promise<Classifier> {
    const model = live(this.#model, 'Tamis');
    const json = typeof policy === 'string' ? policy : JSON.stringify(policy);
    const classifier = new Classifier(model, guard(() => new WasmClassifier(model, json)), this.#classifiers);
    this.#classifiers.add(classifier);
    return classifier;
  }

  async fuse(request: FusionRequest): Promise<RankedCandidate[]> {
    const model = live(this.#model, 'Tamis');
    return guard(() => model.fuse(request) as RankedCandidate[]);
  }

  async memoryBytes(): Promise<number> {
    return wasmMemory?.buffer.byteLength ?? 0;
  }

  /** Frees the model and every classifier made from it. */
  async dispose(): Promise<void> {
    for (const classifier of this.#classifiers) await classifier.dispose();
    const model = this.#model;
    this.#model = undefined;
    if (model !== undefined && broken === undefined) model.free();
  }
}

/** A policy applied with a model; made by `Tamis.classifier`. */
export class Classifier implements ClassifierApi {
  #model: Model | undefined;
  #classifier: WasmClassifier | undefined;
  readonly #owner: Set<Classifier>;

  /** @internal */
  constructor(model: Model, classifier: WasmClassifier, owner: Set<Classifier>) {
    this.#model = model;
    this.#classifier = classifier;
    this.#owner = owner;
  }

  async classify(texts: string[]): Promise<Verdict[]> {
    const classifier = live(this.#classifier, 'classifier');
    const model = live(this.#model, 'classifier');
    return guard(() => classifier.classify(model, texts) as Verdict[]);
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
    this.#model = undefined;
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
