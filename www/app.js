// The demo: a home timeline filtered live by tamis in a Web Worker, under a policy the user
// edits here. The policy persists in localStorage and can be exported and imported as JSON.
// The fusion tab (fusion.js) shares the worker.
import { TamisWorker } from '/dist/client.js';
import { $, element } from './dom.js';
import { startFusion } from './fusion.js';

const STORAGE_KEY = 'tamis-demo-policy';
const bundle = '/models/minilm-l6-int8/';

const state = { posts: [], verdicts: [], revealed: new Set(), showHidden: false, classifier: undefined };
const timings = { load: 0, classify: 0 };

function showStatus(text) {
  $('#status').textContent = text;
}

async function start() {
  const started = performance.now();
  const worker = new Worker('/dist/worker.js', { type: 'module' });
  const tamis = await TamisWorker.load(worker, {
    manifest: bundle + 'manifest.json',
    model: bundle + 'model.onnx',
    tokenizer: bundle + 'tokenizer.json',
    onProgress: ({ file, loaded, total }) => {
      if (file === 'model' && total) $('#progress').value = loaded / total;
    },
  });
  timings.load = performance.now() - started;
  const data = await (await fetch('/data/posts.json')).json();
  state.posts = data.posts;
  $('#source').textContent = `(${data.posts.length} ${data.source})`;
  const defaultPolicy = await (await fetch('/samples/policy.json')).json();
  const stored = localStorage.getItem(STORAGE_KEY);
  try {
    state.classifier = await tamis.classifier(stored ?? defaultPolicy);
  } catch (error) {
    $('#policy-error').textContent = `The saved policy was refused (${error.message}); using the default.`;
    state.classifier = await tamis.classifier(defaultPolicy);
  }
  state.tamis = tamis;
  state.defaultPolicy = defaultPolicy;
  await refresh();
  document.body.dataset.ready = 'true';
  await showBackendStatus();
  $('#tab-fusion').onclick = () => showView('fusion');
  $('#tab-timeline').onclick = () => showView('timeline');
  await startFusion(tamis);
}

function showView(name) {
  for (const view of ['timeline', 'fusion']) {
    $(`#${view}-view`).hidden = view !== name;
    $(`#tab-${view}`).setAttribute('aria-pressed', String(view === name));
  }
}

/** The backend that runs and why (a GPU lost during use shows here as cpu), with timings. */
async function showBackendStatus() {
  const { backend, reason } = await state.tamis.diagnostics();
  showStatus(`Backend: ${backend} (${reason}). Model loaded in ${(timings.load / 1000).toFixed(1)} s; ` +
    `${state.posts.length} posts classified in ${(timings.classify / 1000).toFixed(1)} s.`);
}

/** Re-classifies every post under the current policy and redraws. */
async function refresh() {
  const started = performance.now();
  const verdicts = [];
  // Chunks keep the page informed; the worker does the work, the page stays responsive.
  for (let i = 0; i < state.posts.length; i += 100) {
    const chunk = state.posts.slice(i, i + 100).map((post) => post.text);
    verdicts.push(...(await state.classifier.classify(chunk)));
    showStatus(`Classifying… ${Math.min(i + 100, state.posts.length)} / ${state.posts.length}`);
  }
  timings.classify = performance.now() - started;
  state.verdicts = verdicts;
  const policy = await state.classifier.policy();
  localStorage.setItem(STORAGE_KEY, JSON.stringify(policy));
  renderPolicy(policy);
  renderTimeline(policy);
  if (state.tamis) await showBackendStatus();
}

/** Applies an edit; a refused edit changes nothing and says why. */
async function edit(operation) {
  try {
    await state.classifier.edit(operation);
    $('#policy-error').textContent = '';
    await refresh();
  } catch (error) {
    $('#policy-error').textContent = error.message;
  }
}

function renderTimeline(policy) {
  const names = policy.categories.map((c) => c.name);
  const list = $('#timeline');
  list.replaceChildren();
  let hidden = 0;
  state.posts.forEach((post, index) => {
    const verdict = state.verdicts[index];
    const item = element('li', { className: `post ${verdict.action ?? ''}` });
    item.dataset.id = post.id;
    item.dataset.action = verdict.action ?? 'none';
    if (state.revealed.has(post.id) || (verdict.action === 'hide' && state.showHidden)) item.classList.add('revealed');
    if (verdict.action === 'hide') hidden += 1;
    const decided = verdict.labels.join(', ');
    if (verdict.action === 'warn') {
      item.append(element('div', { className: 'warning' }, `Content warning: ${decided} `,
        element('button', { onclick: () => reveal(post.id), textContent: 'Show anyway' })));
    }
    const text = element('div', { className: 'text', textContent: post.text });
    if (verdict.action === 'blur') text.onclick = () => reveal(post.id);
    const why = element('div', { className: 'why', hidden: true }, explain(verdict));
    const category = element('select', {}, ...names.map((name) => element('option', { value: name, textContent: name })));
    const top = [...verdict.scores].sort((a, b) => b.score - a.score)[0];
    if (top) category.value = top.category;
    item.append(text, why, element('div', { className: 'tools' },
      element('button', { textContent: 'Why?', onclick: () => { why.hidden = !why.hidden; } }),
      element('button', {
        className: 'hide-like-this', textContent: 'Hide posts like this',
        onclick: () => edit({ op: 'add_example', category: category.value, text: post.text }),
      }),
      category,
      element('button', {
        className: 'fine', textContent: 'This is fine',
        onclick: () => edit({ op: 'add_keep', category: null, text: post.text }),
      })));
    list.append(item);
  });
  $('#hidden-count').hidden = hidden === 0;
  $('#show-hidden').textContent = `${hidden} posts hidden by your policy: ${state.showHidden ? 'collapse' : 'show'}`;
}

function explain(verdict) {
  const scores = verdict.scores.map((s) => `${s.category} ${s.score.toFixed(2)}`).join(' · ');
  const reason = verdict.reason;
  if (!reason) return scores;
  const because = {
    example: 'nearest example', definition: 'the definition', keep: 'a "this is fine" text',
  }[reason.kind];
  return `${scores}. Decided by ${because} of ${reason.category} (similarity ${reason.similarity.toFixed(2)}): “${reason.text}”`;
}

function reveal(id) {
  state.revealed.add(id);
  document.querySelector(`.post[data-id="${CSS.escape(id)}"]`)?.classList.add('revealed');
}

function renderPolicy(policy) {
  const list = $('#categories');
  list.replaceChildren(...policy.categories.map((category) => {
    const item = element('li');
    item.dataset.category = category.name;
    const blocked = element('input', {
      type: 'checkbox', checked: category.blocked !== false,
      onchange: () => edit({ op: blocked.checked ? 'block' : 'unblock', category: category.name }),
    });
    const action = element('select', {
      onchange: () => edit({ op: 'set_action', category: category.name, action: action.value }),
    }, ...['warn', 'blur', 'hide'].map((name) => element('option', { value: name, textContent: name })));
    action.value = category.action ?? 'hide';
    const definition = element('textarea', { rows: 2, value: category.definition ?? '', placeholder: 'What belongs here' });
    definition.onchange = () =>
      edit({ op: 'set_definition', category: category.name, definition: definition.value.trim() || null });
    item.append(
      element('label', {}, blocked, ` ${category.name} `),
      action,
      element('small', { textContent: ` ${(category.examples ?? []).length} examples, ${(category.keep ?? []).length} keep` }),
      definition,
    );
    return item;
  }));
}

$('#show-hidden').onclick = async () => {
  state.showHidden = !state.showHidden;
  renderTimeline(await state.classifier.policy());
};
$('#export').onclick = async () => {
  const blob = new Blob([JSON.stringify(await state.classifier.policy(), null, 2)], { type: 'application/json' });
  element('a', { href: URL.createObjectURL(blob), download: 'tamis-policy.json' }).click();
};
$('#import').onchange = async (event) => {
  const [file] = event.target.files;
  try {
    const next = await state.tamis.classifier(await file.text());
    await state.classifier.dispose();
    state.classifier = next;
    $('#policy-error').textContent = '';
    await refresh();
  } catch (error) {
    $('#policy-error').textContent = `Not imported: ${error.message}`;
  }
};
$('#reset').onclick = async () => {
  await state.classifier.dispose();
  state.classifier = await state.tamis.classifier(state.defaultPolicy);
  await refresh();
};

start().catch((error) => showStatus(`tamis could not start: ${error.message}`));
