// The demo's fusion tab: one Cranfield query, the lists of three retrievers (BM25, TF-IDF and
// dense) side by side, and tamis's fused list with its evidence. "More like this" and "Less
// like this" add a document to the liked or disliked examples, and the list is fused again.
import { $, element } from './dom.js';

const state = { data: undefined, query: undefined, liked: new Set(), disliked: new Set(), tamis: undefined };

/** Loads the lists and fuses the first query with `tamis` (a TamisWorker). */
export async function startFusion(tamis) {
  state.tamis = tamis;
  state.data = await (await fetch('/data/fusion.json')).json();
  if (state.data.missing) {
    $('#fusion-status').textContent = state.data.missing;
    return;
  }
  $('#fusion-source').textContent = `(${state.data.source})`;
  $('#fusion-query').replaceChildren(...state.data.queries.map((query) =>
    element('option', { value: query.id, textContent: `${query.id}. ${query.text}` })));
  $('#fusion-query').onchange = () => {
    state.liked.clear();
    state.disliked.clear();
    fuseAndRender();
  };
  $('#fusion-method').onchange = fuseAndRender;
  $('#fusion-content').onchange = fuseAndRender;
  await fuseAndRender();
}

const snippet = (id) => {
  const text = state.data.documents[id];
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
};

/** nDCG@10 with the collection's graded judgments (gains 1 to 4). */
function ndcg10(ids, gains) {
  const dcg = (values) => values.slice(0, 10).reduce((sum, gain, i) => sum + gain / Math.log2(i + 2), 0);
  const ideal = dcg(Object.values(gains).sort((a, b) => b - a));
  return ideal === 0 ? 0 : dcg(ids.map((id) => gains[id] ?? 0)) / ideal;
}

function documentItem(id, gains, ...extra) {
  const item = element('li', {}, element('strong', { textContent: `#${id} ` }),
    element('span', { className: 'snippet', textContent: snippet(id) }), ...extra);
  item.dataset.id = id;
  if (gains[id]) {
    item.classList.add('relevant');
    item.title = `judged relevant (gain ${gains[id]} of 4)`;
  }
  if (state.liked.has(id)) item.classList.add('liked');
  if (state.disliked.has(id)) item.classList.add('disliked');
  return item;
}

/** Fuses the chosen query's lists again and redraws the four columns. */
async function fuseAndRender() {
  const query = state.data.queries.find((q) => q.id === $('#fusion-query').value);
  const content = $('#fusion-content').checked;
  const lists = query.lists.map((list) => ({
    name: list.name,
    items: list.items.map((item) => ({ ...item, text: state.data.documents[item.id] })),
  }));
  const request = {
    lists,
    method: $('#fusion-method').value,
    ...(content && {
      query: query.text,
      preferences: {
        liked: [...state.liked].map((id) => state.data.documents[id]),
        disliked: [...state.disliked].map((id) => state.data.documents[id]),
      },
    }),
  };
  $('#fusion-status').textContent = 'Fusing…';
  const started = performance.now();
  let fused;
  try {
    fused = await state.tamis.fuse(request);
  } catch (error) {
    $('#fusion-status').textContent = `Fusion failed: ${error.message}`;
    return;
  }
  const elapsed = performance.now() - started;
  const columns = query.lists.map((list) => {
    const ids = list.items.map((item) => item.id);
    return element('section', { className: 'retriever' },
      element('h3', { textContent: `${list.name} · nDCG@10 ${ndcg10(ids, query.gains).toFixed(3)}` }),
      element('ol', {}, ...list.items.map((item) =>
        documentItem(item.id, query.gains, element('div', { className: 'evidence', textContent: `score ${item.score.toFixed(3)}` })))));
  });
  const names = query.lists.map((list) => list.name);
  const fusedColumn = element('section', { id: 'fused' },
    element('h3', { textContent: `tamis fused · nDCG@10 ${ndcg10(fused.map((c) => c.id), query.gains).toFixed(3)}` }),
    element('ol', {}, ...fused.map((candidate) => documentItem(candidate.id, query.gains,
      element('div', { className: 'evidence', textContent: evidenceLine(candidate, names) }),
      element('button', { className: 'like', textContent: 'More like this', onclick: () => prefer(candidate.id, state.liked, state.disliked) }),
      element('button', { className: 'dislike', textContent: 'Less like this', onclick: () => prefer(candidate.id, state.disliked, state.liked) })))));
  $('#fusion-columns').replaceChildren(...columns, fusedColumn);
  $('#fusion-preferences').textContent = state.liked.size + state.disliked.size === 0
    ? 'Mark documents with "More like this" or "Less like this" to re-rank.'
    : `${state.liked.size} liked, ${state.disliked.size} disliked document(s).`;
  $('#fusion-status').textContent = `${fused.length} candidates fused in ${elapsed.toFixed(0)} ms ` +
    `(${content ? 'content-aware' : 'classical'}, ${state.tamis.backend}). Green edge: judged relevant.`;
  document.body.dataset.fused = String(Number(document.body.dataset.fused ?? 0) + 1);
}

function evidenceLine(candidate, names) {
  const positions = candidate.evidence.positions
    .map((position, i) => `${names[i]} ${position === null ? '–' : `#${position}`}`).join(' · ');
  const parts = [positions, `${candidate.evidence.agreement}/${names.length} lists`];
  if (candidate.consensus !== null) parts.push(`consensus ${candidate.consensus.toFixed(2)}`);
  if (candidate.content !== null) parts.push(`content ${candidate.content.toFixed(2)}`);
  parts.push(`score ${candidate.score.toFixed(3)}`);
  return parts.join(' · ');
}

function prefer(id, into, from) {
  from.delete(id);
  into.add(id);
  fuseAndRender();
}
