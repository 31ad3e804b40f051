// The extension's service worker (a classic script): loads tamis from files packaged in the
// extension, classifies the texts content scripts send, and follows the stored policy.
importScripts('vendor/tamis.classic.js');

const { Tamis } = self.tamis;
const file = (name) => chrome.runtime.getURL(`vendor/${name}`);

let ready;
/** The loaded model and the classifier of the stored policy, made once per worker life. */
function tamisReady() {
  ready ??= (async () => {
    const tamis = await Tamis.load({
      wasm: file('tamis_wasm_bg.wasm'),
      manifest: file('model/manifest.json'),
      model: file('model/model.onnx'),
      tokenizer: file('model/tokenizer.json'),
      cache: false,
    });
    const classifier = await tamis.classifier(await storedPolicy());
    return { tamis, classifier };
  })();
  ready.catch(() => { ready = undefined; });
  return ready;
}

async function storedPolicy() {
  const { policy } = await chrome.storage.local.get('policy');
  return policy ?? (await (await fetch(chrome.runtime.getURL('default-policy.json'))).text());
}

async function answer(message) {
  const { tamis, classifier } = await tamisReady();
  switch (message.type) {
    case 'classify':
      return { verdicts: await classifier.classify(message.texts) };
    case 'set-policy': {
      // Checked by making its classifier first: a refused policy changes nothing.
      const next = await tamis.classifier(message.policy);
      await chrome.storage.local.set({ policy: message.policy });
      const state = await ready;
      await state.classifier.dispose();
      state.classifier = next;
      return { ok: true };
    }
    case 'get-policy':
      return { policy: JSON.stringify(await classifier.policy(), null, 2) };
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}

chrome.runtime.onMessage.addListener((message, _sender, reply) => {
  answer(message).then(reply, (error) => reply({ error: { code: error.code, message: error.message } }));
  return true; // the reply comes asynchronously
});
