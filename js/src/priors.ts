// The priors the package ships (dist/priors/, copied from crates/tamis-model/priors/ by
// scripts/build-js.mjs): the wasm module has none built in (they are 168 KB each and barely
// compress), so a load fetches those of its model, and only those.
import type { BytesSource } from './platform.js';

/** One shipped `.priors` file. */
export interface ShippedPriors {
  /** The file's name under `priors/` beside the entry point. */
  file: string;
  /** The file's sha256: a download is checked against it before the cache keeps it. */
  sha256: string;
  /**
   * Where the file is: beside this module, written out in full so that bundlers (Vite,
   * webpack, esbuild) see the asset and emit it; in the classic scripts, beside the script.
   */
  location: () => URL;
}

/**
 * The priors the package ships, by the sha256 of the model file they were fitted for (the
 * manifest's): a bundle loaded by name or by files gets them when its model is one of these.
 * A Node test keeps this table equal to crates/tamis-model/priors/.
 */
export const SHIPPED_PRIORS: Readonly<Record<string, Readonly<ShippedPriors>>> = {
  '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6': {
    file: 'minilm-l6-int8.priors',
    sha256: '53316ff894b4a29cdf6afd2b6ff6f60547b4b488bea1b5e6c629f77eac9a4f69',
    location: () => new URL('./priors/minilm-l6-int8.priors', import.meta.url),
  },
  '1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f': {
    file: 'e5-small-q4.priors',
    sha256: '3f8f31966cf891189c332b1b6d608cc571e4a10d4097c60fef2ad1c2b8b86158',
    location: () => new URL('./priors/e5-small-q4.priors', import.meta.url),
  },
};

/** Where a load gets its priors from, and the sha256 to check them against when known. */
export interface PriorsSource {
  source: BytesSource;
  sha256?: string;
}

/**
 * The priors of the model whose file has `modelSha256`: those given (`options.priors`), none
 * (`false`, or a model tamis ships none for), or the shipped ones.
 */
export function priorsSource(given: BytesSource | false | undefined, modelSha256: string): PriorsSource | undefined {
  if (given === false) return undefined;
  if (given !== undefined) return { source: given };
  const shipped = SHIPPED_PRIORS[modelSha256.toLowerCase()];
  return shipped === undefined ? undefined : { source: shipped.location(), sha256: shipped.sha256 };
}
