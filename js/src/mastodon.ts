/**
 * tamis's verdicts in the shape Mastodon clients already render: `status.filtered`, a list of
 * FilterResult whose filter has a `filter_action` (warn, blur, hide) and the `context`s it
 * applies in. A client that shows server-side filters shows tamis's with the same UI.
 *
 * @example
 * ```ts
 * import { filterStatuses } from 'tamis/mastodon';
 * const timeline = await masto.v1.timelines.home.list();
 * const filtered = await filterStatuses(classifier, timeline, { context: 'home' });
 * // filtered[i].filtered: [...the server's results, { filter: { id: 'tamis:spam', filter_action: 'hide', ... } }]
 * ```
 *
 * @packageDocumentation
 */
import type { ClassifierApi } from './tamis.js';
import type { Action, Verdict } from './types.js';

/** Where a status is shown, in Mastodon's words. */
export type FilterContext = 'home' | 'notifications' | 'public' | 'thread' | 'account';

const ALL_CONTEXTS: FilterContext[] = ['home', 'notifications', 'public', 'thread', 'account'];

/** The part of Mastodon's Filter entity a client reads. */
export interface MastodonFilter {
  id: string;
  title: string;
  context: FilterContext[];
  expires_at: string | null;
  filter_action: Action;
  keywords: unknown[];
  statuses: unknown[];
}

/** Mastodon's FilterResult entity. */
export interface FilterResult {
  filter: MastodonFilter;
  keyword_matches: string[] | null;
  status_matches: string[] | null;
}

/** The same entities as masto.js gives them: camelCase keys. */
export interface CamelFilterResult {
  filter: Omit<MastodonFilter, 'expires_at' | 'filter_action'> & { expiresAt: string | null; filterAction: Action };
  keywordMatches: string[] | null;
  statusMatches: string[] | null;
}

/**
 * The fields of Mastodon's Status entity the adapter reads and writes, as the API sends them
 * (snake_case) or as masto.js hands them over (camelCase); results come back in the same case.
 */
export interface MastodonStatus {
  id: string;
  content: string;
  spoiler_text?: string;
  spoilerText?: string;
  media_attachments?: { description?: string | null }[];
  mediaAttachments?: { description?: string | null }[];
  reblog?: MastodonStatus | null;
  filtered?: (FilterResult | CamelFilterResult)[];
}

/** masto.js and other camelCasing clients. */
function isCamelCase(status: MastodonStatus): boolean {
  return 'spoilerText' in status || 'mediaAttachments' in status;
}

function inCase(result: FilterResult, camel: boolean): FilterResult | CamelFilterResult {
  if (!camel) return result;
  const { expires_at, filter_action, ...filter } = result.filter;
  return {
    filter: { ...filter, expiresAt: expires_at, filterAction: filter_action },
    keywordMatches: result.keyword_matches,
    statusMatches: result.status_matches,
  };
}

export interface FilterOptions {
  /** Where these statuses are shown; a category acts only in its contexts. */
  context: FilterContext;
  /** Per category, the contexts it acts in; every context when absent. */
  contexts?: Record<string, FilterContext[]>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The visible text of a status's HTML content, without a DOM (works in workers and Node). */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>|<\/p>\s*<p[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity: string, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return Number.isFinite(code) ? String.fromCodePoint(code) : entity;
      }
      return ENTITIES[name.toLowerCase()] ?? entity;
    })
    .trim();
}

/** What a status says: its content warning, its text and its media descriptions. */
export function statusText(status: MastodonStatus): string {
  const shown = status.reblog ?? status;
  return [
    shown.spoiler_text ?? shown.spoilerText ?? '',
    htmlToText(shown.content),
    ...(shown.media_attachments ?? shown.mediaAttachments ?? []).map((media) => media.description ?? ''),
  ]
    .filter((part) => part.trim().length > 0)
    .join('\n');
}

/**
 * One FilterResult per decided blocked category that acts in `options.context`, with the
 * category's own action (`actions`, from the policy).
 */
export function filterResults(verdict: Verdict, actions: Map<string, Action>, options: FilterOptions): FilterResult[] {
  const blocked = new Set(verdict.scores.filter((s) => s.blocked).map((s) => s.category));
  return verdict.labels
    .filter((category) => blocked.has(category))
    .map((category) => ({ category, contexts: options.contexts?.[category] ?? ALL_CONTEXTS }))
    .filter(({ contexts }) => contexts.includes(options.context))
    .map(({ category, contexts }) => ({
      filter: {
        id: `tamis:${category}`,
        title: `tamis: ${category}`,
        context: contexts,
        expires_at: null,
        filter_action: actions.get(category) ?? 'hide',
        keywords: [],
        statuses: [],
      },
      keyword_matches: null,
      status_matches: null,
    }));
}

/**
 * Classifies each status's text (the reblogged status for a reblog) and returns copies with
 * tamis's FilterResults appended to `filtered` (the server's own results are kept), in the
 * statuses' own key case. Statuses without text, or with nothing to filter, come back as they
 * were.
 */
export async function filterStatuses<S extends MastodonStatus>(
  classifier: Pick<ClassifierApi, 'classify' | 'policy'>,
  statuses: S[],
  options: FilterOptions,
): Promise<S[]> {
  const policy = await classifier.policy();
  const actions = new Map(policy.categories.map((c) => [c.name, c.action ?? 'hide'] as [string, Action]));
  const texts = statuses.map(statusText);
  const withText = texts.flatMap((text, index) => (text.length > 0 ? [index] : []));
  const verdicts = await classifier.classify(withText.map((index) => texts[index] as string));
  const results = new Map(withText.map((index, i) => [index, filterResults(verdicts[i] as Verdict, actions, options)]));
  return statuses.map((status, index) => {
    const added = (results.get(index) ?? []).map((result) => inCase(result, isCamelCase(status)));
    return added.length === 0 ? status : { ...status, filtered: [...(status.filtered ?? []), ...added] };
  });
}
