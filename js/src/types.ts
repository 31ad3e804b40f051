/** Values that cross the API, as the Rust core reads and writes them. */

export type Mode = 'binary' | 'multiclass' | 'multilabel';
/** What a client does with a matched text, in Mastodon's words, mildest first. */
export type Action = 'warn' | 'blur' | 'hide';
/**
 * Where the model runs: `cpu` (tract compiled to wasm) or `gpu` (WebGPU). The same names as
 * the CLI's `--backend` and the Rust crates (`tamis_gpu::BackendKind`); a test keeps them equal.
 */
export type Backend =
  | 'cpu'
  | 'gpu';

/**
 * Which backend to load on: `auto` (the GPU on a hardware adapter where the model's shaders
 * compile, the CPU otherwise), `cpu`, or `gpu` (`backend_unavailable` without one). The same
 * names as `tamis_gpu::BackendPreference`; a test keeps them equal.
 */
export type BackendPreference =
  | 'auto'
  | 'cpu'
  | 'gpu';

/** `Tamis.load`'s `threads` option: a count of threads, or `auto` (the cores, at most 4). */
export type ThreadsOption = number | 'auto';

/**
 * Which wasm module runs: `single_thread` (the default, runs anywhere) or `threaded` (shared
 * memory and a pool of Web Workers; `Tamis.load`'s `threads` option, in cross-origin isolated
 * workers). The same names as `tamis_wasm::ThreadsModule`; a test keeps them equal.
 */
export type ThreadsModule =
  | 'single_thread'
  | 'threaded';

/**
 * Why a model runs on the threads it runs on (`diagnostics().threads.code`). The same names as
 * `tamis_wasm::ThreadsReason`; a test keeps them equal.
 */
export type ThreadsReason =
  /** The threaded module runs its pool of Web Workers. */
  | 'asked'
  /** `threads: 1`, the default. */
  | 'one_asked'
  /** Not cross-origin isolated: the page (or extension) needs COOP and COEP. */
  | 'not_cross_origin_isolated'
  /** No `SharedArrayBuffer` in this host. */
  | 'no_shared_memory'
  /** A page's main thread cannot wait on `Atomics`: load tamis in a worker. */
  | 'main_thread'
  /** A context without a `Worker` constructor (a service worker). */
  | 'no_workers'
  /** Node.js: no Web Workers for the pool. */
  | 'node'
  /** The classic-script bundles cannot import the threaded module. */
  | 'classic_script'
  /** The threaded module's workers did not start. */
  | 'pool_failed'
  /** An earlier load in this context chose the single-thread module: load in a new worker. */
  | 'first_load';

/** Which backend runs and why: `tamis.diagnostics()`. */
export interface Diagnostics {
  backend: Backend;
  /**
   * Why this backend, as a sentence (the same as the CLI's): `asked for the CPU`, `this
   * JavaScript host has no WebGPU (navigator.gpu is missing)`, a software adapter, a GPU lost
   * during use, ...
   */
  reason: string;
  /** The WebGPU adapter found, whether or not it runs the model. */
  adapter: {
    name: string;
    /** A software adapter (SwiftShader) or one the browser marks as a fallback. */
    fallback: boolean;
    /** The storage-buffer binding limit the model's device was asked for, in bytes. */
    maxStorageBufferBinding: number;
  } | null;
  /** The threads a call's work is split over on the CPU, and why (`Tamis.load`'s `threads`). */
  threads: {
    /** 1, or the threaded module's Web Workers. */
    count: number;
    module: ThreadsModule;
    code: ThreadsReason;
    /** e.g. `1 thread: the page is not cross-origin isolated (needs COOP/COEP headers: ...)`. */
    reason: string;
  };
}

export interface Category {
  /** Unique ignoring case; `toxic`, `spam` and `negative` come with built-in priors. */
  name: string;
  /** A sentence saying what belongs here. */
  definition?: string;
  /** Texts that belong here. */
  examples?: string[];
  /** Texts that look alike but must pass. */
  keep?: string[];
  /** Unblocked categories are scored but never act. Default true. */
  blocked?: boolean;
  /** Default `hide`. */
  action?: Action;
  /** Score in (0, 1) at which a text matches; 0.5 by default. */
  threshold?: number;
}

/** A personalized policy (version 1). */
export interface Policy {
  version: 1;
  mode: Mode;
  categories: Category[];
  /** Texts that pass whatever the category. */
  keep?: string[];
}

/** One edit of a policy; a refused edit changes nothing. */
export type PolicyEdit =
  | { op: 'add_category'; category: Category }
  | { op: 'remove_category'; category: string }
  | { op: 'add_example'; category: string; text: string }
  | { op: 'remove_example'; category: string; text: string }
  | { op: 'add_keep'; category: string | null; text: string }
  | { op: 'remove_keep'; category: string | null; text: string }
  | { op: 'block'; category: string }
  | { op: 'unblock'; category: string }
  | { op: 'set_definition'; category: string; definition: string | null }
  | { op: 'set_action'; category: string; action: Action }
  | { op: 'set_threshold'; category: string; threshold: number | null };

export interface CategoryScore {
  category: string;
  /** Calibrated probability in [0, 1]. */
  score: number;
  /** The score reached the threshold and no keep text vetoed it. */
  matched: boolean;
  blocked: boolean;
}

/** Why a verdict is what it is: the policy text nearest to the classified text. */
export interface Reason {
  kind: 'example' | 'definition' | 'keep';
  category: string;
  text: string;
  similarity: number;
}

export interface Verdict {
  /** Every category, in policy order. */
  scores: CategoryScore[];
  /** The decided categories. */
  labels: string[];
  /** A blocked category was decided. */
  harmful: boolean;
  /** The strictest action among decided blocked categories, or null. */
  action: Action | null;
  reason: Reason | null;
  /** The model saw only the start of the text. */
  truncated: boolean;
}

export interface Embedding {
  /** Unit-length vector. */
  vector: number[];
  /** Tokens the model saw. */
  tokens: number;
  truncated: boolean;
}

export interface RankedItem {
  id: string;
  /** Higher is better; absent: the list's order (or `rank`) decides. */
  score?: number;
  /** 1-based. */
  rank?: number;
  /** The candidate's content, for content-aware fusion. */
  text?: string;
}

export interface RankedList {
  name: string;
  /** For the weighted fusers; 1 by default. */
  weight?: number;
  items: RankedItem[];
}

/** A ranx fusion method. */
export type FusionMethod =
  | 'sum' | 'mnz' | 'anz' | 'max' | 'min' | 'med' | 'gmnz' | 'wsum' | 'wmnz' | 'rrf' | 'isr'
  | 'log_isr' | 'logn_isr' | 'rbc' | 'bordafuse' | 'w_bordafuse' | 'condorcet' | 'w_condorcet';
export type Normalization = 'none' | 'min-max' | 'max' | 'sum' | 'zmuv' | 'rank' | 'borda';

/**
 * One query's lists. With a query or preferences and item texts, the fusion weighs content
 * against the lists' consensus; otherwise it is the classical `method`.
 */
export interface FusionRequest {
  lists: RankedList[];
  query?: string;
  preferences?: { liked?: string[]; disliked?: string[] };
  /** Default `mnz`. */
  method?: FusionMethod;
  /** Default `min-max`. */
  normalization?: Normalization;
}

export interface RankedCandidate {
  id: string;
  score: number;
  evidence: {
    /** 1-based position in each input list, null where absent. */
    positions: (number | null)[];
    /** How many lists hold the candidate. */
    agreement: number;
  };
  /** Content-aware fusion only: the lists' consensus, min-max normalized. */
  consensus: number | null;
  /** Content-aware fusion only: similarity to the query profile, min-max normalized. */
  content: number | null;
}

/**
 * A model family tamis runs, as a bundle's manifest names it: it decides the bundle's files
 * (`ARCHITECTURE_FILES`). The same names as `tamis_model::Architecture`; a test keeps them equal.
 */
export type Architecture =
  /** BERT encoders (all-MiniLM-L6-v2): `model.onnx` and `tokenizer.json`. English. */
  | 'bert'
  /** XLM-RoBERTa encoders (multilingual-e5-small): `model.e5s`, tokenizer inside. About 100 languages. */
  | 'xlm-roberta';

/** The model bundle's manifest (`manifest.json`), as far as loading needs it. */
export interface Manifest {
  id: string;
  dimension: number;
  /** Which files the bundle has; manifests without one are `bert`'s. */
  architecture?: Architecture;
  /** Keyed by file name: `model.onnx` and `tokenizer.json` (`bert`), or `model.e5s` (`xlm-roberta`). */
  files: Record<string, { sha256: string }>;
  [key: string]: unknown;
}

/**
 * A file a load reads: the manifest, the model and, for `bert` bundles, the tokenizer (an
 * `xlm-roberta` model file holds its own); the model's priors (where there are some); and the
 * tamis `.wasm`.
 */
export type LoadFile = 'manifest' | 'model' | 'tokenizer' | 'priors' | 'wasm';

/**
 * Progress of one file, in transformers.js's words: `initiate` when it starts, `progress` as
 * bytes arrive, `done` when they are all there.
 */
export interface FileProgress {
  status: 'initiate' | 'progress' | 'done';
  file: LoadFile;
  /** Where the file comes from; null for bytes given. */
  url: string | null;
  /** Bytes so far. */
  loaded: number;
  /** Null when the server does not say (and at `initiate`). */
  total: number | null;
  /** Percent, 0 to 100; null when the total is unknown. */
  progress: number | null;
  /** The bytes came from the Cache API. */
  cached: boolean;
}

/** The model is loaded: `load()` resolves next. */
export interface ReadyProgress {
  status: 'ready';
  /** The backend that runs the model. */
  backend: Backend;
}

/**
 * Progress of a load, passed to `onProgress`. No event comes after `load()` rejected or its
 * `signal` aborted it.
 *
 * @example
 * ```ts
 * const tamis = await Tamis.load({ model: 'minilm-l6-int8', onProgress: (event) => {
 *   if (event.status === 'progress' && event.file === 'model') bar.value = event.progress ?? 0;
 *   if (event.status === 'ready') bar.hidden = true;
 * } });
 * ```
 */
export type LoadProgress = FileProgress | ReadyProgress;
