// Finds statuses in Mastodon's web interface (article/.status with .status__content), has the
// extension's worker classify each text once, and applies warn, blur or hide in place. New
// statuses (scrolling, streaming) are filtered as they appear; a new policy or model re-filters.
const STATUS = '.status__content';
const verdictOf = new Map(); // text -> verdict, so that each text is classified once
let pending = new Set();
let scheduled = false;

function textOf(content) {
  return content.innerText.trim();
}

function apply(content, verdict) {
  const status = content.closest('article, .status') ?? content;
  status.classList.remove('tamis-warn', 'tamis-blur', 'tamis-hide');
  status.querySelector(':scope .tamis-bar')?.remove();
  status.dataset.tamis = verdict?.action ?? 'none';
  if (!verdict?.action) return;
  status.classList.add(`tamis-${verdict.action}`);
  if (verdict.action === 'warn') {
    const bar = document.createElement('div');
    bar.className = 'tamis-bar';
    bar.textContent = `Filtered by your policy: ${verdict.labels.join(', ')} `;
    const show = document.createElement('button');
    show.textContent = 'Show anyway';
    show.onclick = () => status.classList.remove('tamis-warn');
    bar.append(show);
    content.before(bar);
  }
}

async function flush() {
  scheduled = false;
  const batch = [...pending];
  pending = new Set();
  const unknown = [...new Set(batch.map(textOf).filter((text) => text && !verdictOf.has(text)))];
  if (unknown.length > 0) {
    const reply = await chrome.runtime.sendMessage({ type: 'classify', texts: unknown });
    if (reply.error) return;
    unknown.forEach((text, i) => verdictOf.set(text, reply.verdicts[i]));
  }
  for (const content of batch) apply(content, verdictOf.get(textOf(content)));
  document.documentElement.dataset.tamisFiltered = String(document.querySelectorAll('[data-tamis]').length);
}

function queue(contents) {
  contents.forEach((content) => pending.add(content));
  if (!scheduled && pending.size > 0) {
    scheduled = true;
    setTimeout(flush, 50);
  }
}

queue([...document.querySelectorAll(STATUS)]);
new MutationObserver((mutations) => {
  const added = [];
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      if (node.matches(STATUS)) added.push(node);
      added.push(...node.querySelectorAll(STATUS));
    }
  }
  queue(added);
}).observe(document.body, { childList: true, subtree: true });

chrome.storage.onChanged.addListener((changes) => {
  if (!changes.policy && !changes.model) return;
  verdictOf.clear();
  queue([...document.querySelectorAll(STATUS)]);
});
