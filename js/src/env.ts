/**
 * Settings shared by every load in this JavaScript context, in the manner of transformers.js's
 * `env.localModelPath`.
 *
 * @example
 * ```ts
 * import { env, Tamis } from 'tamis';
 * env.baseUrl = 'https://cdn.example.org/tamis-models/';
 * // fetches https://cdn.example.org/tamis-models/minilm-l6-int8/{manifest.json,model.onnx,tokenizer.json}
 * const tamis = await Tamis.load({ model: 'minilm-l6-int8' });
 * // fetches https://cdn.example.org/tamis-models/e5-small-q4/{manifest.json,model.e5s}
 * const multilingual = await Tamis.load({ model: 'e5-small-q4' });
 * ```
 */
export const env: {
  /**
   * Where models loaded by name are: `Tamis.load({ model: name })` reads
   * `<baseUrl>/<name>/manifest.json`, then the files its architecture names (`model.onnx` and
   * `tokenizer.json`, or `model.e5s`: `ARCHITECTURE_FILES`). A URL, resolved
   * against the page in browsers; in Node also a directory path, resolved against the working
   * directory. Default `/models/` in browsers, `models` in Node (the folder that
   * `npx tamis models fetch <name> models/<name>` fills).
   */
  baseUrl: string | URL;
} = { baseUrl: '/models/' };
