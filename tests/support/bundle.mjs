// The default model bundle's files (scripts/setup.sh prepares them), read for Node scripts and
// tests in the shape `Tamis.load` takes.
import { readFileSync } from 'node:fs';

export const BUNDLE_DIR = new URL('../../models/minilm-l6-int8/', import.meta.url);

/** One file of the bundle, as bytes. */
export const bundleFile = (name) => readFileSync(new URL(name, BUNDLE_DIR));

/** `{ manifest, model, tokenizer }` as fresh byte buffers. */
export const bundleFiles = () => ({
  manifest: bundleFile('manifest.json'),
  model: bundleFile('model.onnx'),
  tokenizer: bundleFile('tokenizer.json'),
});
