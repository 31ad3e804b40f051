// Mastodon API v1 Status entities built from ../shared/data/harmful/mastodon, as a server
// serializes them (the fields masto.js and clients read), for the adapter's Node and browser
// tests. The texts are real posts; a spam status, a reblog of it and a status the server has
// already filtered are added so every path of the adapter is taken.
import { readCsv } from './csv.mjs';

const root = new URL('../../', import.meta.url);
const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Status entity in the API's snake_case. */
export const status = (id, html, extra = {}) => ({
  id: String(id), uri: `https://example.social/statuses/${id}`, url: null, created_at: '2025-01-01T00:00:00.000Z',
  account: { id: '1', username: 'someone', acct: 'someone', display_name: 'Someone', url: 'https://example.social/@someone' },
  content: html, visibility: 'public', sensitive: false, spoiler_text: '', media_attachments: [], mentions: [],
  tags: [], emojis: [], reblogs_count: 0, favourites_count: 0, replies_count: 0, reblog: null, filtered: [], ...extra,
});

export const SPAM_HTML = '<p>WINNER!! You have won a &#163;1000 prize&#33; Call now to claim, reply YES</p>';

/** A FilterResult of the server's own keyword filter, acting in the home timeline. */
export const serverFilter = {
  filter: { id: '9', title: 'server', context: ['home'], expires_at: null, filter_action: 'warn', keywords: [], statuses: [] },
  keyword_matches: ['election'], status_matches: null,
};

/**
 * A home timeline: `count` posts of the data set (ids from 100), then status 1 (spam), 2 (a
 * reblog of spam) and 4 (already filtered by the server).
 */
export function homeTimeline(count) {
  const posts = readCsv(new URL('../shared/data/harmful/mastodon/mastodon2025-en-shuffled-predicted.csv', root).pathname, count);
  return [
    ...posts.map((post, i) => status(100 + i, `<p>${escape(post.text)}</p>`)),
    status(1, SPAM_HTML),
    status(2, '', { reblog: status(3, SPAM_HTML) }),
    status(4, '<p>Our library lends telescopes<br>for stargazing nights</p>', { filtered: [serverFilter] }),
  ];
}
