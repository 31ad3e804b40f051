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
 * ```
 */
export const env: {
  /**
   * Where models loaded by name are: `Tamis.load({ model: name })` reads
   * `<baseUrl>/<name>/manifest.json`, `model.onnx` and `tokenizer.json`. A URL, resolved
   * against the page in browsers; in Node also a directory path, resolved against the working
   * directory. Default `/models/` in browsers, `models` in Node (the folder that
   * `npx tamis models fetch <name> models/<name>` fills).
   */
  baseUrl: string | URL;
} = { baseUrl: '/models/' };
