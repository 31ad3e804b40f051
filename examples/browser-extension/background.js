// The extension's service worker (a classic script): loads tamis and the chosen model from files
// packaged in the extension, classifies the texts content scripts send, and follows the stored
// policy and model.
importScripts('vendor/tamis.classic.js');

const { Tamis } = self.tamis;
const file = (name) => chrome.runtime.getURL(`vendor/${name}`);

/** The models package.mjs packaged ({ name, description, languages, bytes }), first the default. */
async function packagedModels() {
  return (await fetch(file('models.json'))).json();
}

/** The stored model when it is packaged, else the first packaged one. */
async function storedModel() {
  const [{ model }, models] = await Promise.all([chrome.storage.local.get('model'), packagedModels()]);
  return models.some((packaged) => packaged.name === model) ? model : models[0].name;
}

/** Loads the packaged bundle `name` by name: its manifest, then the files it names. */
function loadModel(name) {
  return Tamis.load({ model: name, baseUrl: file('models/'), wasm: file('tamis_wasm_bg.wasm'), cache: false });
}

let ready;
/** The loaded model and the classifier of the stored policy, made once per worker life. */
function tamisReady() {
  ready ??= (async () => {
    const model = await storedModel();
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
