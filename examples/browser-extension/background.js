// The extension's service worker: classifies the texts content scripts send, and follows the
// stored policy and model. tamis itself runs in a module worker of the offscreen document
// (offscreen.js): a service worker cannot start workers, and tamis needs one to split each call
// over the cores with the threaded module. The model and the policy come from files packaged
// in the extension.
const file = (name) => chrome.runtime.getURL(`vendor/${name}`);

let offscreenReady;
/** The offscreen document, made once (it outlives this worker's restarts). */
async function ensureOffscreen() {
  offscreenReady ??= (async () => {
    if (await chrome.offscreen.hasDocument()) return;
    await chrome.offscreen.createDocument({
      url: 'offscreen.html',
      reasons: ['WORKERS'],
      justification: 'runs the tamis model in Web Workers, over every core',
    });
  })();
  offscreenReady.catch(() => { offscreenReady = undefined; });
  return offscreenReady;
}

/** Runs `call` in the offscreen document; its errors come back with their code. */
async function offscreen(call) {
  await ensureOffscreen();
  const reply = await chrome.runtime.sendMessage({ target: 'offscreen', call });
  if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
  return reply.value;
}

/** A classifier in the offscreen document, with the calls this worker makes. */
function remoteClassifier(handle) {
  return {
    classify: (texts) => offscreen({ op: 'classify', classifier: handle, texts }),
    policy: () => offscreen({ op: 'policy', classifier: handle }),
    dispose: () => offscreen({ op: 'dispose-classifier', classifier: handle }),
  };
}

/** The models package.mjs packaged ({ name, description, languages, bytes }), first the default. */
async function packagedModels() {
  return (await fetch(file('models.json'))).json();
}

/** The stored model when it is packaged, else the first packaged one. */
async function storedModel() {
  const [{ model }, models] = await Promise.all([chrome.storage.local.get('model'), packagedModels()]);
  return models.some((packaged) => packaged.name === model) ? model : models[0].name;
}

/** Loads the packaged bundle `name` by name in the offscreen document: a tamis-like handle. */
async function loadModel(name) {
  const { handle, backend, hasPriors } = await offscreen({ op: 'load', model: name });
  return {
    backend,
    hasPriors,
    classifier: async (policy) => remoteClassifier(await offscreen({ op: 'classifier', model: handle, policy })),
    diagnostics: () => offscreen({ op: 'diagnostics', model: handle }),
    dispose: () => offscreen({ op: 'dispose', model: handle }),
  };
}

let ready;
/** The loaded model and the classifier of the stored policy, made once per worker life. */
function tamisReady() {
  ready ??= (async () => {
    const model = await storedModel();
    // Models an earlier life of this worker loaded are unreachable now: free them.
    await offscreen({ op: 'reset' });
    const tamis = await loadModel(model);
    const classifier = await tamis.classifier(await storedPolicy());
    return { tamis, classifier, model };
  })();
  ready.catch(() => { ready = undefined; });
  return ready;
}

async function storedPolicy() {
  const { policy } = await chrome.storage.local.get('policy');
  return policy ?? (await (await fetch(chrome.runtime.getURL('default-policy.json'))).text());
}

async function answer(message) {
  const state = await tamisReady();
  switch (message.type) {
    case 'classify':
      return { verdicts: await state.classifier.classify(message.texts) };
    case 'set-policy': {
      // Checked by making its classifier first: a refused policy changes nothing.
      const next = await state.tamis.classifier(message.policy);
      await chrome.storage.local.set({ policy: message.policy });
      await state.classifier.dispose();
      state.classifier = next;
      return { ok: true };
    }
    case 'get-policy':
      return { policy: JSON.stringify(await state.classifier.policy(), null, 2) };
    case 'get-diagnostics':
      return { diagnostics: await state.tamis.diagnostics() };
    case 'get-models':
      return { models: await packagedModels(), model: state.model };
    case 'set-model': {
      // The new model and the current policy's classifier are made before anything is stored or
      // freed: a model that does not load changes nothing.
      const models = await packagedModels();
      if (!models.some((packaged) => packaged.name === message.model)) {
        throw new Error(`${message.model} is not packaged; package.mjs --model ${message.model} adds it`);
      }
      const tamis = await loadModel(message.model);
      const classifier = await tamis.classifier(await state.classifier.policy());
      const previous = state.tamis;
      Object.assign(state, { tamis, classifier, model: message.model });
      // Stored after the swap: content scripts re-filter on the change and get the new model.
      await chrome.storage.local.set({ model: message.model });
      await previous.dispose();
      return { ok: true, backend: tamis.backend, hasPriors: tamis.hasPriors };
    }
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}

chrome.runtime.onMessage.addListener((message, _sender, reply) => {
  answer(message).then(reply, (error) => reply({ error: { code: error.code, message: error.message } }));
  return true; // the reply comes asynchronously
});
