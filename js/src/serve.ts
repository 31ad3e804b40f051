import { asTamisError, TamisError } from './errors.js';
import type { Reply, Request } from './protocol.js';
import { type Classifier, Tamis } from './tamis.js';

/** The side of a worker that answers `TamisWorker`. */
interface Port {
  onmessage: ((event: MessageEvent<{ id: number; request: Request }>) => void) | null;
  postMessage(message: Reply): void;
}

/**
 * Answers `TamisWorker` requests on `port` (the worker's global scope): every call runs here,
 * off the client's thread, and errors come back with their code.
 */
export function serve(port: Port): void {
  let tamis: Tamis | undefined;
  const classifiers = new Map<number, Classifier>();
  /** The loads in progress, by request id, for `abort`. */
  const loads = new Map<number, AbortController>();
  let nextHandle = 1;

  const loaded = (): Tamis => {
    if (tamis === undefined) throw new TamisError('disposed', 'tamis is not loaded in this worker');
    return tamis;
  };
  const classifier = (handle: number): Classifier => {
    const found = classifiers.get(handle);
    if (found === undefined) throw new TamisError('disposed', 'this classifier was disposed; create a new one');
    return found;
  };

  async function answer(id: number, request: Request): Promise<unknown> {
    switch (request.op) {
      case 'load': {
        if (tamis !== undefined) await tamis.dispose();
        tamis = undefined;
        classifiers.clear();
        const controller = new AbortController();
        loads.set(id, controller);
        try {
          tamis = await Tamis.load({
            ...request.options,
            signal: controller.signal,
            onProgress: (progress) => port.postMessage({ id, progress }),
          });
        } finally {
          loads.delete(id);
        }
        return { backend: tamis.backend, dimension: tamis.dimension, hasPriors: tamis.hasPriors };
      }
      case 'abort':
        loads.get(request.target)?.abort();
        return undefined;
      case 'embed':
        return loaded().embed(request.texts);
      case 'classifier': {
        const handle = nextHandle++;
        classifiers.set(handle, await loaded().classifier(request.policy));
        return handle;
      }
      case 'classify':
        return classifier(request.handle).classify(request.texts);
      case 'edit':
        return classifier(request.handle).edit(request.edit);
      case 'policy':
        return classifier(request.handle).policy();
      case 'dispose_classifier':
        await classifiers.get(request.handle)?.dispose();
        classifiers.delete(request.handle);
        return undefined;
      case 'fuse':
        return loaded().fuse(request.request);
      case 'memory':
        return loaded().memoryBytes();
      case 'diagnostics':
        return loaded().diagnostics();
      case 'release_gpu':
        return loaded().releaseGpu();
      case 'dispose':
        await tamis?.dispose();
        tamis = undefined;
        classifiers.clear();
        return undefined;
    }
  }

  port.onmessage = (event) => {
    const { id, request } = event.data;
    answer(id, request).then(
      (value) => port.postMessage({ id, ok: true, value }),
      (error: unknown) => {
        const { code, message } = asTamisError(error);
        port.postMessage({ id, ok: false, error: { code, message } });
      },
    );
  };
}
