/**
 * Stable error codes: branch on `error.code`, show `error.message`. Defined once in Rust
 * (`crates/tamis-wasm/src/error_code.rs`); `cargo test -p tamis-wasm` fails when this list
 * and that one differ.
 *
 * @example
 * ```ts
 * try {
 *   await Tamis.load({ model: 'minilm-l6-int8', signal });
 * } catch (error) {
 *   if (error instanceof TamisError && error.code === 'aborted') return;
 *   throw error;
 * }
 * ```
 */
export type ErrorCode =
  /** A model file is missing or unreadable (in Node: no file at the path given). */
  | 'model_missing'
  /** A model file's bytes do not match the manifest's sha256. */
  | 'checksum_mismatch'
  /** `manifest.json` is not JSON or lacks what loading needs. */
  | 'invalid_manifest'
  /** The model file (`model.onnx`, `model.e5s`) is not a model tamis can run. */
  | 'invalid_model'
  /** `tokenizer.json` is not a usable tokenizer for the model. */
  | 'invalid_tokenizer'
  /** The priors given are not a priors file, or were fitted for another model file. */
  | 'invalid_priors'
  /** Tokenizing or running the model failed. */
  | 'inference_failed'
  /** The policy is not a valid tamis policy. */
  | 'invalid_policy'
  /** A policy edit names a category the policy does not have. */
  | 'unknown_category'
  /** A policy edit removes a text the policy does not have. */
  | 'unknown_text'
  /** A text to classify or a fusion query is empty. */
  | 'empty_text'
  /** A text is over the size limit. */
  | 'text_too_long'
  /** The ranked lists to fuse are not valid (duplicate ids, scores that are not numbers). */
  | 'invalid_lists'
  /** An argument has the wrong type or value (a string where an array of texts is expected, an unknown backend). */
  | 'invalid_argument'
  /** Content-aware fusion was asked of `fuseLists`, which has no model: use `tamis.fuse`. */
  | 'model_required'
  /** A model file or the `.wasm` could not be downloaded or read; the message names the URL and what came back. */
  | 'fetch_failed'
  /** The GPU was asked for (`backend: 'gpu'`) and cannot run the model. */
  | 'backend_unavailable'
  /** The GPU was lost while the model was being loaded on it. */
  | 'backend_lost'
  /** The `signal` passed to `load` aborted it. */
  | 'aborted'
  /** The object was disposed. */
  | 'disposed'
  /** A bug in tamis, to report. Either a Rust panic trapped the module: every later call in this worker or page is then `instance_broken` (load tamis again in a new one); or an unexpected failure that leaves tamis usable (a result the module could not convert to JavaScript, a JavaScript error without a code). The message says which. */
  | 'internal_error'
  /** An earlier Rust panic (an `internal_error`) left tamis unusable in this worker or page. */
  | 'instance_broken'
  /** The Web Worker running tamis failed. */
  | 'worker_failed';

/**
 * @internal Codes the wrapper handles itself: on the GPU, a call that needs embeddings not
 * computed yet fails with `needs_embeddings`, and the wrapper computes them and runs it again.
 */
export type InternalCode =
  | 'needs_embeddings';

/**
 * Every error tamis throws: a JS `Error` with a stable `code`.
 *
 * @example
 * ```ts
 * try {
 *   await classifier.classify(texts);
 * } catch (error) {
 *   if (error instanceof TamisError && error.code === 'text_too_long') showTooLong(error.message);
 *   else throw error;
 * }
 * ```
 */
export class TamisError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TamisError';
    this.code = code;
  }
}

/**
 * @internal The error as tamis reports it: errors from the wasm module keep their code; an
 * error without one is a bug in tamis that did not trap the module (see `unexpectedError`).
 */
export function asTamisError(error: unknown): TamisError {
  if (error instanceof TamisError) return error;
  const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (error instanceof Error && typeof code === 'string') {
    return new TamisError(code as ErrorCode, error.message);
  }
  return unexpectedError(error instanceof Error ? error.message : String(error), error);
}

/**
 * @internal The `internal_error` of a failure tamis did not expect but that leaves it usable,
 * unlike a panic (whose message says that tamis can no longer be used).
 */
export function unexpectedError(what: string, cause?: unknown): TamisError {
  return new TamisError('internal_error', `tamis hit an unexpected error, a bug to report: ${what}`, { cause });
}

/** @internal The `aborted` error for a signal's `reason`. */
export function abortedError(reason: unknown): TamisError {
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new TamisError('aborted', `the load was aborted${why === '' ? '' : `: ${why}`}`, { cause: reason });
}
