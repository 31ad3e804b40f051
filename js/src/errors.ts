/** Stable error codes: branch on `error.code`, show `error.message`. */
export type ErrorCode =
  | 'model_missing'
  | 'checksum_mismatch'
  | 'invalid_manifest'
  | 'invalid_model'
  | 'invalid_tokenizer'
  | 'invalid_priors'
  | 'inference_failed'
  | 'invalid_policy'
  | 'unknown_category'
  | 'unknown_text'
  | 'empty_text'
  | 'text_too_long'
  | 'invalid_lists'
  | 'invalid_argument'
  | 'model_required'
  | 'fetch_failed'
  | 'backend_unavailable'
  | 'disposed'
  | 'internal_error'
  | 'instance_broken'
  | 'worker_failed';

/** Every error tamis throws: a JS `Error` with a stable `code`. */
export class TamisError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TamisError';
    this.code = code;
  }
}

/** The error as tamis reports it: errors from the wasm module keep their code. */
export function asTamisError(error: unknown): TamisError {
  if (error instanceof TamisError) return error;
  const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (error instanceof Error && typeof code === 'string') {
    return new TamisError(code as ErrorCode, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TamisError('internal_error', message, { cause: error });
}
