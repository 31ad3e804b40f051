// Edits the stored policy; the worker checks it before it is saved.
const policy = document.getElementById('policy');
const message = document.getElementById('message');

chrome.runtime.sendMessage({ type: 'get-policy' }).then((reply) => {
  policy.value = reply.policy ?? '';
  document.body.dataset.loaded = 'true';
});

document.getElementById('save').onclick = async () => {
  const reply = await chrome.runtime.sendMessage({ type: 'set-policy', policy: policy.value });
  message.textContent = reply.error ? `Not saved: ${reply.error.message}` : 'Saved.';
  message.dataset.state = reply.error ? 'refused' : 'saved';
};
