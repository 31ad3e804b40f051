// Edits the stored options: the model and the policy. The worker checks both before saving
// them (the model loads, the policy makes a classifier), so a refused one changes nothing.
const policy = document.getElementById('policy');
const message = document.getElementById('message');
const model = document.getElementById('model');
const modelMessage = document.getElementById('model-message');

const megabytes = (bytes) => `${Math.round(bytes / 1e6)} MB`;

Promise.all([
  chrome.runtime.sendMessage({ type: 'get-policy' }),
  chrome.runtime.sendMessage({ type: 'get-models' }),
]).then(([policyReply, modelsReply]) => {
  policy.value = policyReply.policy ?? '';
  model.replaceChildren(...(modelsReply.models ?? []).map(({ name, description, languages, bytes }) =>
    new Option(`${name}: ${description}, ${languages.join(', ')}, ${megabytes(bytes)}`, name)));
  model.value = modelsReply.model;
  document.body.dataset.loaded = 'true';
});

model.onchange = async () => {
  model.disabled = true;
  modelMessage.textContent = `Loading ${model.value}…`;
  modelMessage.dataset.state = 'loading';
  const started = performance.now();
  const reply = await chrome.runtime.sendMessage({ type: 'set-model', model: model.value });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (reply.error) {
    modelMessage.textContent = `Not changed: ${reply.error.message}`;
    const { model: current } = await chrome.runtime.sendMessage({ type: 'get-models' });
    model.value = current;
  } else {
    const priors = reply.hasPriors ? '' : '; no built-in priors yet: the categories work from your examples and definitions';
    modelMessage.textContent = `Saved: loaded in ${seconds} s on the ${reply.backend.toUpperCase()}${priors}.`;
  }
  modelMessage.dataset.state = reply.error ? 'refused' : 'saved';
  model.disabled = false;
};

document.getElementById('save').onclick = async () => {
  const reply = await chrome.runtime.sendMessage({ type: 'set-policy', policy: policy.value });
  message.textContent = reply.error ? `Not saved: ${reply.error.message}` : 'Saved.';
  message.dataset.state = reply.error ? 'refused' : 'saved';
};
