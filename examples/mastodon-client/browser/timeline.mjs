// A Mastodon web client's home timeline with tamis's verdicts shown through the client's own
// filter UI: statuses come from masto.js, `filterStatuses` adds FilterResults, and the page
// renders `status.filtered` as Mastodon does (hide: left out; warn: "Filtered: …" with "Show
// anyway"; blur: blurred). tamis runs in a Web Worker; no status text leaves the page.
//
// Bundle with esbuild (masto is an npm package):
//   npx esbuild timeline.mjs --bundle --format=esm --outfile=timeline.js
// and serve it with the package's dist/ and the model bundle (see README.md).
//
// ?instance=https://your.instance&token=… selects the server; the page's own origin otherwise.
import { createRestAPIClient } from 'masto';
import { TamisWorker } from 'tamis/client';
import { filterStatuses, statusText } from 'tamis/mastodon';

const PACKAGE = '/dist/';
const MODEL = '/models/minilm-l6-int8/';
const ACTION_ORDER = ['warn', 'blur', 'hide'];

const parameters = new URLSearchParams(location.search);
const masto = createRestAPIClient({
  url: parameters.get('instance') ?? location.origin,
  accessToken: parameters.get('token') ?? undefined,
});

const worker = new Worker(`${PACKAGE}worker.js`, { type: 'module' });
const tamis = await TamisWorker.load(worker, {
  manifest: `${MODEL}manifest.json`,
  model: `${MODEL}model.onnx`,
  tokenizer: `${MODEL}tokenizer.json`,
});
const policy = localStorage.getItem('tamis-policy') ?? await (await fetch('policy.json')).text();
const classifier = await tamis.classifier(policy);

const statuses = await masto.v1.timelines.home.list({ limit: 40 });
const shown = await filterStatuses(classifier, statuses, { context: 'home' });
render(shown);
document.querySelector('#status').textContent = `${shown.length} statuses, filtered on this device (${tamis.backend}).`;
document.body.dataset.ready = 'true';

/** The strictest action of the results that apply in the home timeline, as Mastodon picks it. */
function actionOf(status) {
  const actions = (status.filtered ?? [])
    .filter((result) => result.filter.context.includes('home'))
    .map((result) => result.filter.filterAction);
  return actions.sort((a, b) => ACTION_ORDER.indexOf(b) - ACTION_ORDER.indexOf(a))[0] ?? 'none';
}

function render(timeline) {
  let hidden = 0;
  const nodes = timeline.flatMap((status) => {
    const action = actionOf(status);
    if (action === 'hide') {
      hidden += 1;
      return [];
    }
    const article = document.createElement('article');
    article.className = `status ${action}`;
    article.dataset.id = status.id;
    article.dataset.action = action;
    const content = document.createElement('div');
    content.className = 'content';
    content.textContent = statusText(status);
    if (action === 'warn') {
      const titles = status.filtered.map((result) => result.filter.title).join(', ');
      const notice = document.createElement('div');
      notice.className = 'filtered-notice';
      notice.textContent = `Filtered: ${titles} `;
      const show = document.createElement('button');
      show.textContent = 'Show anyway';
      show.onclick = () => article.classList.add('revealed');
      notice.append(show);
      article.append(notice);
    }
    article.append(content);
    return [article];
  });
  document.querySelector('#timeline').replaceChildren(...nodes);
  document.querySelector('#hidden-count').textContent = `${hidden} statuses hidden by your filters.`;
}
