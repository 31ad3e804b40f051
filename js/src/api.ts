// Everything every entry point exports.
export { Tamis, Classifier, fuseLists, guard } from './tamis.js';
export type { LoadOptions, TamisApi, ClassifierApi } from './tamis.js';
export { TamisError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { CACHE_NAME, sha256Hex } from './load.js';
export type { BytesSource } from './load.js';
export type * from './types.js';
