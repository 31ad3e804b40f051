// Everything every entry point exports.
export { Tamis, Classifier, fuseLists, guard } from './tamis.js';
export type { LoadOptions, LoadSettings, TamisApi, ClassifierApi } from './tamis.js';
export { TamisError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { env } from './env.js';
export { ARCHITECTURE_FILES, CACHE_NAME, sha256Hex } from './load.js';
export type { ArchitectureFiles, BundleFiles, BytesSource, NamedModel } from './load.js';
export type * from './types.js';
