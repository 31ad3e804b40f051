// The prepared model bundles' files (scripts/setup.sh prepares the default one,
// `python3 scripts/prepare-model.py --model e5-small-q4` the multilingual one), read for Node
// scripts and tests in the shape `Tamis.load` takes.
import { readFileSync } from 'node:fs';

/** The folder of the prepared bundle `name` under models/. */
export const modelDir = (name) => new URL(`../../models/${name}/`, import.meta.url);

export const BUNDLE_DIR = modelDir('minilm-l6-int8');

/** The multilingual bundle (xlm-roberta): `manifest.json` and `model.e5s`, no tokenizer file. */
export const E5_DIR = modelDir('e5-small-q4');

/** One file of the default bundle, as bytes. */
export const bundleFile = (name) => readFileSync(new URL(name, BUNDLE_DIR));

/** `{ manifest, model, tokenizer }` as fresh byte buffers. */
export const bundleFiles = () => ({
  manifest: bundleFile('manifest.json'),
  model: bundleFile('model.onnx'),
  tokenizer: bundleFile('tokenizer.json'),
});
