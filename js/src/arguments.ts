// Checks of what callers pass, before it reaches the wasm module or a worker: a wrong type is
// an `invalid_argument` naming the public method, never a per-character result or a bug.
import { TamisError } from './errors.js';

/** What `value` is, in a message: `a string`, `a number`, `null`, `an array`, ... */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Examples, in messages, of what `tamis.fuse` and `classifier.edit` take. */
export const FUSION_EXAMPLE = "{ lists: [{ name: 'bm25', items: [{ id: 'a' }] }] }";
export const EDIT_EXAMPLE = "{ op: 'add_example', category: 'spam', text: 'Claim your prize' }";

function invalid(method: string, message: string): TamisError {
  return new TamisError('invalid_argument', `${method}: ${message}`);
}

/**
 * `texts` when it is an array of strings.
 *
 * @param method - the public call, e.g. `classifier.classify(texts)`, named in the error
 */
export function checkTexts(texts: unknown, method: string): string[] {
  if (typeof texts === 'string') {
    throw invalid(method, 'got a string; pass an array of texts, e.g. [text]');
  }
  if (!Array.isArray(texts)) throw invalid(method, `got ${describe(texts)}; pass an array of texts`);
  const index = texts.findIndex((text) => typeof text !== 'string');
  if (index >= 0) throw invalid(method, `texts[${index}] is ${describe(texts[index])}, not a string`);
  return texts as string[];
}

/** `value` when it is a plain object (not an array, not null). */
export function checkObject<T>(value: T, method: string, example: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(method, `got ${describe(value)}; pass an object, e.g. ${example}`);
  }
  return value;
}

/** The JSON of a policy given as an object or as its JSON text. */
export function policyJson(policy: unknown, method: string): string {
  if (typeof policy === 'string') return policy;
  checkObject(policy, method, "{ version: 1, mode: 'binary', categories: [...] }");
  try {
    return JSON.stringify(policy);
  } catch (error) {
    throw invalid(method, `the policy cannot be written as JSON: ${String(error)}`);
  }
}
