import * as singleThreadGlue from './wasm/tamis_wasm.js';
import type { Model, PolicyClassifier as WasmClassifier } from './wasm/tamis_wasm.js';
import { checkObject, checkTexts, describe, EDIT_EXAMPLE, FUSION_EXAMPLE, policyJson } from './arguments.js';
import { asTamisError, type InternalCode, TamisError, unexpectedError } from './errors.js';
import {
  ARCHITECTURE_FILES,
  type BundleFiles,
  type BytesSource,
  type FetchOptions,
  isBytesSource,
  loadBytes,
  loadBytesChecking,
  LoadRun,
  locateBundle,
  manifestSource,
  modelSources,
  type NamedModel,
  parseManifest,
} from './load.js';
import { currentPlatform } from './platform.js';
import { priorsSource } from './priors.js';
import { type Glue, threadsAsked, threadsPlan } from './threads.js';
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
  ThreadsOption,
  ThreadsReason,
  Verdict,
} from './types.js';

/** How to load, whichever way the model is named. Nothing is fetched that is not named. */
export interface LoadSettings {
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
  /**
   * The priors of `toxic`, `spam` and `negative` for the model (a `.priors` file). By default
   * the ones the package ships for the model's file (by its sha256, by name or by files), from
   * `priors/` beside this file, and none for other models; `false` loads without priors. A
   * classic script run by `importScripts` finds no `priors/` beside it: pass them as for
   * `wasm`. Priors for another model are `invalid_priors`. `tamis.hasPriors` says whether the
   * model has them.
   */
  priors?: BytesSource | false;
  /**
   * Threads to split each call over on the CPU: 1 (default), a count, or `auto` (the cores,
   * at most 4). More than one runs the threaded module (`wasm-threads/`, beside this file) on
   * a pool of Web Workers: only in a worker of a cross-origin isolated page or extension (COOP
   * `same-origin` and COEP `require-corp`), and not in Node or the classic-script bundles.
   * Elsewhere tamis runs on one thread; `diagnostics().threads` says how many run and why.
   * Results are the same bits whatever the count. The first load of a context decides the
   * module and its pool: later loads use them.
   */
  threads?: ThreadsOption;
  /** Called as files arrive; never after `load()` rejected or was aborted. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts the load: its downloads stop and `load()` rejects with code `aborted`. */
  signal?: AbortSignal;
}

/**
 * How to load tamis: a model by name (found under `baseUrl`, default `env.baseUrl`), or the
 * bundle's files as bytes or URLs (in Node also paths or `file:` URLs): the manifest and the
 * model, and the tokenizer for a `bert` model (an `xlm-roberta` model file holds its own).
 *
 * @example
 * ```ts
 * await Tamis.load({ model: 'minilm-l6-int8', baseUrl: '/models/' }); // English, 23 MB
 * await Tamis.load({ model: 'e5-small-q4', baseUrl: '/models/' }); // about 100 languages, 72 MB
 * await Tamis.load({ manifest: 'models/minilm-l6-int8/manifest.json',
 *   model: 'models/minilm-l6-int8/model.onnx', tokenizer: 'models/minilm-l6-int8/tokenizer.json' });
 * await Tamis.load({ manifest: 'models/e5-small-q4/manifest.json', model: 'models/e5-small-q4/model.e5s' });
 * ```
 */
export type LoadOptions = LoadSettings & (NamedModel | BundleFiles);

/** The operations of a loaded tamis, the same on the main thread and through a worker. */
export interface TamisApi {
  /** The backend that runs the model (through a worker: at load; `diagnostics()` is current). */
  readonly backend: Backend;
  readonly dimension: number;
  /** Priors for `toxic`, `spam` and `negative` were loaded (`LoadSettings.priors`). */
  readonly hasPriors: boolean;
  /**
   * Embeddings of `texts` (an array, even of one text), in order.
   *
   * @example
   * ```ts
   * const [{ vector, tokens, truncated }] = await tamis.embed(['a quiet evening by the sea']);
   * ```
   */
  embed(texts: string[]): Promise<Embedding[]>;
  /** A classifier for `policy` (an object or its JSON); it validates the policy first. */
  classifier(policy: Policy | string): Promise<ClassifierApi>;
  /**
   * Fuses one query's ranked lists: classical, or content-aware with a query or preferences
   * over the items' texts.
   *
   * @example
   * ```ts
   * const fused = await tamis.fuse({ query: 'high tide', lists: [
   *   { name: 'home', items: [{ id: '1', text: 'High tide at 18:40' }, { id: '2', text: 'Gig tonight' }] }] });
   * fused[0].id; // '1'
   * ```
   */
  fuse(request: FusionRequest): Promise<RankedCandidate[]>;
  /** Bytes of wasm memory in use (it grows, never shrinks): for soak tests and monitoring. */
  memoryBytes(): Promise<number>;
  /** The backend running now, why, and the WebGPU adapter found. */
  diagnostics(): Promise<Diagnostics>;
  /**
   * Releases the GPU device as a device loss would: later calls run on the CPU. For pages
   * that need the GPU back, and to test the fallback. Does nothing on the CPU.
   */
  releaseGpu(): Promise<void>;
  dispose(): Promise<void>;
}

/** A policy being applied. */
export interface ClassifierApi {
  /**
   * Verdicts for `texts` (an array, even of one text), in order.
   *
   * @example
   * ```ts
   * const [verdict] = await classifier.classify(['Claim your FREE cruise now']);
   * verdict.action; // 'hide'
   * ```
   */
  classify(texts: string[]): Promise<Verdict[]>;
  /**
   * Applies one edit; a refused edit throws and changes nothing.
   *
   * @example
   * ```ts
   * await classifier.edit({ op: 'add_example', category: 'spam', text: 'Free crypto giveaway' });
   * ```
   */
  edit(edit: PolicyEdit): Promise<void>;
  /** The current policy, to save. */
  policy(): Promise<Policy>;
  dispose(): Promise<void>;
}

/** A compiled wasm module: its glue and its memory. */
interface WasmModule {
  glue: Glue;
  memory: WebAssembly.Memory;
  /** Why its models run on the threads they run on, when they ask for more than one. */
  threads: ThreadsReason;
}

/**
 * The module of this context, once compiling: the single-thread one, or the threaded one with
 * its pool of workers started. The first load decides.
 */
let wasmReady: Promise<WasmModule> | undefined;
/** The module compiled, for what runs after a load (panic messages, memory). */
let loadedModule: WasmModule | undefined;
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
    panic = loadedModule?.glue.takePanicMessage();
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
            throw unexpectedError(`a call still needed embeddings after ${round} rounds`);
          }
          await guardAsync(() => this.model.embedPending() as Promise<void>);
        }
      }
    } finally {
      if (broken === undefined) this.model.clearStaged();
    }
  }
}

/**
 * Compiles the module once per JavaScript context: the threaded one, with its pool of
 * `threads` workers, where `threads` is more than one and this context can run it (else the
 * single-thread one, and why). Its download is shared by every load that waits for it, so one
 * load's signal does not cancel it (an aborted load stops waiting).
 */
async function ensureWasm(
  source: BytesSource | undefined,
  threads: number,
  onProgress: (p: LoadProgress) => void,
): Promise<WasmModule> {
  wasmReady ??= compileModule(source, threads, onProgress).then(
    (module) => (loadedModule = module),
    (error: unknown) => {
      wasmReady = undefined;
      throw asTamisError(error);
    },
  );
  return wasmReady;
}

/**
 * Why a load asking `threads` runs on the threads it runs on, given the context's module: one
 * when it asks one; the pool of a threaded module; or, on the single-thread module, why this
 * context cannot run threads, or that an earlier load chose that module here.
 */
function loadThreads(module: WasmModule, threads: number): ThreadsReason {
  if (threads === 1) return 'one_asked';
  if (module.threads === 'asked' || module.threads === 'pool_failed') return module.threads;
  const plan = threadsPlan(threads);
  return plan === 'asked' ? 'first_load' : plan;
}

async function compileModule(
  source: BytesSource | undefined,
  threads: number,
  onProgress: (p: LoadProgress) => void,
): Promise<WasmModule> {
  const options = { cache: false, signal: new AbortController().signal, onProgress };
  const compile = async (glue: Glue, wasm: BytesSource): Promise<WebAssembly.Memory> => {
    const { bytes } = await loadBytes(wasm, 'wasm', options);
    return (await glue.default({ module_or_path: bytes as Uint8Array<ArrayBuffer> })).memory;
  };
  const reason = threadsPlan(threads);
  const { threaded } = currentPlatform();
  if (reason !== 'asked' || typeof threaded === 'string') {
    const glue = singleThreadGlue;
    return { glue, memory: await compile(glue, source ?? currentPlatform().wasm()), threads: reason };
  }
  const { glue, wasm } = await threaded();
  const memory = await compile(glue, wasm);
  try {
    await glue.startThreads(threads);
  } catch (error) {
    // The module runs on the calling thread instead; the console keeps the cause.
    console.warn('tamis: the threaded module\'s workers did not start:', error);
    return { glue, memory, threads: 'pool_failed' };
  }
  return { glue, memory, threads: 'asked' };
}
/**
 * The bytes of the priors for the model whose file has `modelSha256` (`priorsSource`); none
 * for a model tamis ships none for, or with `priors: false`. Shipped priors that cannot be
 * read fail the load, with the error of the read (`fetch_failed` for a download, in Node
 * `model_missing` for no file) and the ways out: a quiet load without them would change the
 * scores of the standard categories unannounced.
 */
async function loadPriors(
  given: BytesSource | false | undefined,
  modelSha256: string,
  options: FetchOptions,
): Promise<Uint8Array | undefined> {
  const priors = priorsSource(given, modelSha256);
  if (priors === undefined) return undefined;
  const { source, shipped } = priors;
  try {
    return (await loadBytes(source, 'priors', options, shipped?.sha256)).bytes;
  } catch (error) {
    if (shipped === undefined || !(error instanceof TamisError) || error.code === 'aborted') throw error;
    throw new TamisError(
      error.code,
      `the priors tamis ships for this model (${shipped.file}) could not be loaded: ${error.message}. ` +
        "Deploy the package's priors/ folder beside its entry point (a bundler emits it; " +
        'a copied dist/ needs dist/priors/ too), or pass their URL or bytes as options.priors, ' +
        'or priors: false to load without them (toxic, spam and negative then score from their examples and ' +
        'definitions alone)',
      { cause: error },
    );
  }
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
 * import { Tamis } from 'tamis';
 * const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: '/models/',
 *   onProgress: (p) => p.status === 'progress' && console.log(p.file, p.progress) });
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

  readonly #module: WasmModule;

  private constructor(model: Model, module: WasmModule) {
    this.#module = module;
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

  /**
   * Loads the wasm module and the model: the manifest first, then the files its architecture
   * names (`model.onnx` and `tokenizer.json`, or `model.e5s`), each checked against the
   * manifest's sha256 while the model is built: files that do not match fail the load.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * cancelButton.onclick = () => controller.abort();
   * const tamis = await Tamis.load({ model: 'minilm-l6-int8', signal: controller.signal });
   * ```
   * In Node, paths and `file:` URLs are read from disk:
   * ```ts
   * const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: './models' });
   * ```
   */
  static async load(options: LoadOptions): Promise<Tamis> {
    const method = 'Tamis.load(options)';
    checkObject(options, method, "{ model: 'minilm-l6-int8' }");
    const location = locateBundle(options, method);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TamisError('invalid_argument', `${method}: options.signal is ${describe(signal)}, not an AbortSignal`);
    }
    const threads = threadsAsked(options.threads, method);
    if (options.priors !== undefined && options.priors !== false && !isBytesSource(options.priors)) {
      throw new TamisError(
        'invalid_argument',
        `${method}: options.priors is ${describe(options.priors)}; pass bytes or a URL (in Node also a path) ` +
          'of a .priors file, or false to load without priors',
      );
    }
    const run = new LoadRun(signal, options.onProgress);
    return run.run(async () => {
      const fetchOptions = { cache: options.cache ?? true, signal: run.signal, onProgress: run.onProgress };
      // The module compiles while the model files are fetched and hashed (both off this thread).
      const modelFiles = (async () => {
        const manifestFile = await loadBytes(manifestSource(location), 'manifest', { ...fetchOptions, cache: false });
        const manifest = parseManifest(manifestFile);
        const sources = modelSources(location, manifest, method);
        const names = ARCHITECTURE_FILES[manifest.architecture];
        const sha256 = (name: string | null) => (name === null ? undefined : manifest.files[name]?.sha256);
        const [model, tokenizer, priors] = await Promise.all([
          loadBytesChecking(sources.model, 'model', fetchOptions, sha256(names.model)),
          sources.tokenizer === undefined
            ? undefined
            : loadBytesChecking(sources.tokenizer, 'tokenizer', fetchOptions, sha256(names.tokenizer)),
          loadPriors(options.priors, sha256(names.model) ?? '', fetchOptions),
        ]);
        const verified = Promise.all([model.verified, tokenizer?.verified]);
        verified.catch(() => undefined); // awaited below, after the build
        return { manifest: manifestFile.bytes, model: model.bytes, tokenizer: tokenizer?.bytes, priors, verified };
      })();
      const [module, bytes] = await Promise.all([ensureWasm(options.wasm, threads, run.onProgress), modelFiles]);
      // The module builds the model while Web Crypto (10x faster than hashing inside wasm)
      // checks the files against the manifest, so it skips its own check; the model is used
      // only once they match, and a mismatch is the error even where the build failed too.
      // (The module's parsers take any bytes without panicking: fuzzed.)
      const backend = options.backend ?? 'auto';
      const threadsReason = loadThreads(module, threads);
      const model = await guardAsync(() =>
        module.glue.Model.load(bytes.manifest, bytes.model, bytes.tokenizer, true, bytes.priors, backend, threadsReason),
      ).catch(async (error: unknown) => {
        await bytes.verified;
        throw error;
      });
      await bytes.verified.catch((error: unknown) => {
        model.free();
        throw error;
      });
      const tamis = new Tamis(model, module);
      run.onProgress({ status: 'ready', backend: tamis.backend });
      return tamis;
    }, (tamis) => tamis.dispose());
  }

  async embed(texts: string[]): Promise<Embedding[]> {
    const checked = checkTexts(texts, 'tamis.embed(texts)');
    const embeddings = await live(this.#runner, 'Tamis').run(
      (model) => model.embed(checked) as Array<Omit<Embedding, 'vector'> & { vector: Float32Array }>,
    );
    return embeddings.map((embedding) => ({ ...embedding, vector: Array.from(embedding.vector) }));
  }

  async classifier(policy: Policy | string): Promise<Classifier> {
    const json = policyJson(policy, 'tamis.classifier(policy)');
    const runner = live(this.#runner, 'Tamis');
    const wasmClassifier = guard(() => new this.#module.glue.PolicyClassifier(runner.model, json));
    const classifier = new Classifier(runner, wasmClassifier, this.#classifiers);
    this.#classifiers.add(classifier);
    return classifier;
  }

  async fuse(request: FusionRequest): Promise<RankedCandidate[]> {
    checkObject(request, 'tamis.fuse(request)', FUSION_EXAMPLE);
    return live(this.#runner, 'Tamis').run((model) => model.fuse(request) as RankedCandidate[]);
  }

  async memoryBytes(): Promise<number> {
    return this.#module.memory.buffer.byteLength;
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
    const checked = checkTexts(texts, 'classifier.classify(texts)');
    const runner = live(this.#runner, 'classifier');
    return runner.run((model) => live(this.#classifier, 'classifier').classify(model, checked) as Verdict[]);
  }

  async edit(edit: PolicyEdit): Promise<void> {
    checkObject(edit, 'classifier.edit(edit)', EDIT_EXAMPLE);
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
  checkObject(request, 'fuseLists(request)', FUSION_EXAMPLE);
  const { glue } = await ensureWasm(wasm, 1, () => undefined);
  return guard(() => glue.fuse(request) as RankedCandidate[]);
}
