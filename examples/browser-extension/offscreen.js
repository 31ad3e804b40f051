// The extension's offscreen document: runs tamis in a module worker (vendor/tamis/worker.js),
// for the service worker (background.js), which cannot start workers itself. The extension is
// cross-origin isolated (manifest.json's cross_origin_embedder_policy and
// cross_origin_opener_policy), so the worker runs the threaded module and splits each call over
// the cores (threads: 'auto'). background.js sends the calls as { target: 'offscreen', call }.
import { TamisWorker } from './vendor/tamis/client.js';

/** Loaded models by handle, each in its own worker. */
const models = new Map();
const classifiers = new Map();
let nextHandle = 1;

const found = (map, handle, what) => {
  const value = map.get(handle);
  if (value === undefined) throw new Error(`no ${what} ${handle} in the offscreen document`);
  return value;
};

async function dispose(handle) {
  const model = models.get(handle);
  models.delete(handle);
  await model?.tamis.dispose();
  model?.worker.terminate();
}

async function run(call) {
  switch (call.op) {
    case 'load': {
      const worker = new Worker(new URL('./vendor/tamis/worker.js', import.meta.url), { type: 'module' });
      try {
        const tamis = await TamisWorker.load(worker, {
          model: call.model, baseUrl: chrome.runtime.getURL('vendor/models/'), cache: false, threads: 'auto',
        });
        const handle = nextHandle++;
        models.set(handle, { tamis, worker });
        return { handle, backend: tamis.backend, hasPriors: tamis.hasPriors };
      } catch (error) {
        worker.terminate();
        throw error;
      }
    }
    case 'classifier': {
      const handle = nextHandle++;
      classifiers.set(handle, await found(models, call.model, 'model').tamis.classifier(call.policy));
      return handle;
    }
    case 'classify':
      return found(classifiers, call.classifier, 'classifier').classify(call.texts);
    case 'policy':
      return found(classifiers, call.classifier, 'classifier').policy();
    case 'dispose-classifier':
      await classifiers.get(call.classifier)?.dispose();
      classifiers.delete(call.classifier);
      return null;
    case 'diagnostics':
      return found(models, call.model, 'model').tamis.diagnostics();
    case 'dispose':
      return dispose(call.model);
    case 'reset':
      // A new service worker knows none of the handles of the one before.
      classifiers.clear();
      for (const handle of [...models.keys()]) await dispose(handle);
      return null;
    default:
      throw new Error(`unknown offscreen call ${call.op}`);
  }
}

chrome.runtime.onMessage.addListener((message, _sender, reply) => {
  // Content scripts' messages are for the service worker.
  if (message?.target !== 'offscreen') return false;
  run(message.call).then(
    (value) => reply({ value: value ?? null }),
    (error) => reply({ error: { code: error.code, message: error.message } }),
  );
  return true; // the reply comes asynchronously
});
