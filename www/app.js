// The demo: a home timeline filtered live by tamis in a Web Worker, under a policy the user
// edits here, with the model the user picks. The policy and the model persist in localStorage;
// the policy can be exported and imported as JSON. The fusion tab (fusion.js) shares the worker.
import { TamisWorker } from '/dist/client.js';
import { $, element } from './dom.js';
import { startFusion } from './fusion.js';

const STORAGE_KEY = 'tamis-demo-policy';
const MODEL_KEY = 'tamis-demo-model';
const LOAD_TIMES_KEY = 'tamis-demo-load-times';

/** The bundles the demo offers, served by name from /models/ (docs/javascript.md). */
const MODELS = [
  { name: 'minilm-l6-int8', size: '23 MB', languages: 'English' },
  { name: 'e5-small-q4', size: '72 MB', languages: 'about 100 languages' },
];

const state = {
  posts: [], verdicts: [], revealed: new Set(), showHidden: false,
  classifier: undefined, tamis: undefined, worker: undefined, model: undefined,
};
const timings = { load: 0, classify: 0 };
/** Each model's last measured load time, { ms, cached }, kept across visits. */
const loadTimes = JSON.parse(localStorage.getItem(LOAD_TIMES_KEY) ?? '{}');

function showStatus(text) {
  $('#status').textContent = text;
}

async function start() {
  renderModelPicker();
  const [data, multilingual] = await Promise.all([
    (await fetch('/data/posts.json')).json(),
    (await fetch('/multilingual-posts.json')).json(),
  ]);
  state.posts = interleave(data.posts, multilingual.posts);
  $('#source').textContent = `(${data.posts.length} ${data.source}; ${multilingual.posts.length} ${multilingual.source})`;
  state.defaultPolicy = await (await fetch('/samples/policy.json')).json();
  const saved = localStorage.getItem(MODEL_KEY);
  await loadModel(MODELS.some((model) => model.name === saved) ? saved : MODELS[0].name);
  $('#tab-fusion').onclick = () => showView('fusion');
  $('#tab-timeline').onclick = () => showView('timeline');
}

/** The non-English posts spread over the top of the timeline, where they are seen. */
function interleave(posts, others) {
  const merged = [...posts];
  others.forEach((post, i) => merged.splice(2 + 3 * i, 0, post));
  return merged;
}

/**
 * Loads `name` in a fresh worker, then terminates the previous one (which frees its model):
 * a model that does not load changes nothing. Keeps the current policy, re-classifies the
 * timeline and re-fuses the fusion tab with the new model.
 */
async function loadModel(name) {
  document.body.dataset.ready = 'false';
  setPickerEnabled(false);
  $('#progress').hidden = false;
  $('#progress').value = 0;
  showStatus(`Loading ${name}…`);
  const started = performance.now();
  let cached = false;
  // A module worker: the threaded module's pool needs one (the classic worker runs one thread).
  const worker = new Worker('/dist/worker.js', { type: 'module' });
  let tamis;
  try {
    tamis = await TamisWorker.load(worker, {
      model: name,
      baseUrl: '/models/',
      // The cores (at most 4) where the page is cross-origin isolated (the demo server sends
      // COOP/COEP), one thread elsewhere; the status line says which and why.
      threads: 'auto',
      onProgress: (event) => {
        if (event.status === 'ready' || event.file !== 'model') return;
        cached = event.cached;
        if (event.total) $('#progress').value = event.loaded / event.total;
        if (event.status === 'progress') {
          showStatus(`Downloading ${name}: ${megabytes(event.loaded)} of ${event.total ? megabytes(event.total) : '?'} MB`);
        }
      },
    });
  } catch (error) {
    worker.terminate();
    $('#progress').hidden = true;
    renderModelPicker();
    setPickerEnabled(true);
    document.body.dataset.ready = String(state.tamis !== undefined);
    throw new Error(`${name} could not load: ${error.message}`);
  }
  timings.load = performance.now() - started;
  loadTimes[name] = { ms: timings.load, cached };
  localStorage.setItem(LOAD_TIMES_KEY, JSON.stringify(loadTimes));
  localStorage.setItem(MODEL_KEY, name);
  $('#progress').hidden = true;
  const policy = state.classifier ? await state.classifier.policy() : localStorage.getItem(STORAGE_KEY);
  state.worker?.terminate();
  Object.assign(state, { worker, tamis, model: name, classifier: undefined });
  state.classifier = await classifierFor(policy ?? state.defaultPolicy);
  renderModelPicker();
  await refresh();
  document.body.dataset.model = name;
  document.body.dataset.ready = 'true';
  setPickerEnabled(true);
  await startFusion(tamis);
}

const megabytes = (bytes) => (bytes / 1e6).toFixed(1);

/** The policy's classifier; a refused saved policy gives way to the default, saying why. */
async function classifierFor(policy) {
  try {
    return await state.tamis.classifier(policy);
  } catch (error) {
    $('#policy-error').textContent = `The saved policy was refused (${error.message}); using the default.`;
    return state.tamis.classifier(state.defaultPolicy);
  }
}

/** One radio button per model: its size, languages and last measured load time. */
function renderModelPicker() {
  $('#models').replaceChildren(...MODELS.map(({ name, size, languages }) => {
    const time = loadTimes[name];
    const measured = time ? `loaded in ${(time.ms / 1000).toFixed(1)} s${time.cached ? ' from the cache' : ''}` : 'not loaded yet';
    const radio = element('input', { type: 'radio', name: 'model', value: name, checked: name === state.model });
    radio.onchange = () => loadModel(name).catch(showLoadError);
    const item = element('label', { className: 'model' }, radio, ` ${name} `,
      element('small', { textContent: `${size} · ${languages} · ${measured}` }));
    item.dataset.model = name;
    return item;
  }));
}

function setPickerEnabled(enabled) {
  for (const radio of document.querySelectorAll('#models input')) radio.disabled = !enabled;
}

function showLoadError(error) {
  showStatus(state.tamis ? `${error.message}; ${state.model} stays.` : `tamis could not start: ${error.message}`);
}

function showView(name) {
  for (const view of ['timeline', 'fusion']) {
    $(`#${view}-view`).hidden = view !== name;
    $(`#tab-${view}`).setAttribute('aria-pressed', String(view === name));
  }
}

/**
 * The backend that runs and why (a GPU lost during use shows here as cpu), the threads and why,
 * with timings.
 */
async function showBackendStatus() {
  const { backend, reason, threads } = await state.tamis.diagnostics();
  const priors = state.tamis.hasPriors
    ? ''
    : ` ${state.model} has no built-in priors yet: the categories work from your examples and definitions.`;
  showStatus(`Backend: ${backend} (${reason}); ${threads.reason}. Model loaded in ${(timings.load / 1000).toFixed(1)} s; ` +
    `${state.posts.length} posts classified in ${(timings.classify / 1000).toFixed(1)} s.${priors}`);
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

start().catch(showLoadError);
