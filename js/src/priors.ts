// The priors the package ships (dist/priors/, copied from crates/tamis-model/priors/ by
// scripts/build-js.mjs): the wasm module has none built in (they are 168 KB each and barely
// compress), so a load fetches those of its model, and only those.
import type { BytesSource } from './platform.js';
import { SHIPPED_PRIORS } from './shipped-priors.js';

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
 * Where a load gets its priors from; for the shipped ones, also the file's name and the sha256
 * to check them against. The table of shipped priors (`SHIPPED_PRIORS`, by the sha256 of the
 * model file they were fitted for) is written by scripts/build-js.mjs from
 * crates/tamis-model/priors/ and models.json.
 */
export interface PriorsSource {
  source: BytesSource;
  shipped?: Readonly<ShippedPriors>;
}

/**
 * The priors of the model whose file has `modelSha256`: those given (`options.priors`), none
 * (`false`, or a model tamis ships none for), or the shipped ones.
 */
export function priorsSource(given: BytesSource | false | undefined, modelSha256: string): PriorsSource | undefined {
  if (given === false) return undefined;
  if (given !== undefined) return { source: given };
  const shipped = SHIPPED_PRIORS[modelSha256.toLowerCase()];
  return shipped === undefined ? undefined : { source: shipped.location(), shipped };
}
