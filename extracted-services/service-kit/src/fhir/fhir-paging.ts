/**
 * FHIR search paging: `_count` and a searchset Bundle whose `next` and `previous` links carry
 * the sort key of the page's edge row (`_cursor`, opaque to clients), not an offset. Results
 * are filed while a client pages through a chart: with offsets, a result filed before the
 * page already read pushed every later row one on (shown twice) and one removed pulled one
 * back (never shown: a result missing from the chart). A page that starts after a key starts
 * where the last one ended, whatever changed before it. The sort key ends in a unique column,
 * so the order is total and stable.
 */
import type { FastifyRequest } from 'fastify';
import { FhirError, single, type BundleEntry } from './fhir-http.js';

/** `_count` when none is given */
export const PAGE_DEFAULT_COUNT = 50;
/** the most entries a page holds: a larger `_count` is served this many at a time (FHIR lets a server return fewer) */
export const PAGE_MAX_COUNT = 200;
/** `_offset` (kept where it was offered) goes no further */
const MAX_OFFSET = 1_000_000;

export type KeyType = 'timestamp' | 'bigint' | 'text';

/** how a key column's text (`::text` of the column) must look to be cast back */
const KEY_TEXT: Record<KeyType, RegExp> = {
  timestamp: /^\d{4,6}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/,
  bigint: /^-?\d{1,19}$/,
  text: /^[^\0]{0,1000}$/,
};

export interface SortKey {
  /** SQL expressions, the last one unique (e.g. the primary key) */
  columns: { sql: string; type: KeyType }[];
  descending: boolean;
}

export interface Page {
  /** entries asked for (0: the total only) */
  count: number;
  /** the page starts after this key (a `next` link) … */
  after?: string[];
  /** … or ends before it (a `previous` link) */
  before?: string[];
  /** the page starts this many rows in (`_offset`, where a search offered it before cursors) */
  offset: number;
}

function encodeCursor(direction: 'n' | 'p', key: string[]): string {
  return Buffer.from(JSON.stringify([direction, ...key]), 'utf8').toString('base64url');
}

function decodeCursor(token: string, key: SortKey): Pick<Page, 'after' | 'before'> {
  const refuse = () => new FhirError(400, 'invalid', '_cursor is not one this search gave: follow the Bundle links', '_cursor');
  if (!/^[A-Za-z0-9_-]{1,8000}$/.test(token)) throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== key.columns.length + 1) throw refuse();
  const [direction, ...values] = parsed as unknown[];
  const ok = values.every((v, i) => typeof v === 'string' && KEY_TEXT[key.columns[i]!.type].test(v));
  if (!ok || (direction !== 'n' && direction !== 'p')) throw refuse();
  return direction === 'n' ? { after: values as string[] } : { before: values as string[] };
}

/** The page a search request asks for: `_count`, `_cursor`, and `_offset` where `offset` says it is offered. */
export function requestedPage(request: FastifyRequest, key: SortKey, o: { offset?: boolean } = {}): Page {
  const rawCount = single(request, '_count');
  if (rawCount !== undefined && !/^\d{1,9}$/.test(rawCount)) throw new FhirError(400, 'invalid', '_count must be a whole number, 0 or more', '_count');
  const count = rawCount === undefined ? PAGE_DEFAULT_COUNT : Math.min(Number(rawCount), PAGE_MAX_COUNT);
  const cursor = single(request, '_cursor');
  const rawOffset = o.offset ? single(request, '_offset') : undefined;
  if (rawOffset !== undefined && (!/^\d{1,7}$/.test(rawOffset) || Number(rawOffset) > MAX_OFFSET)) {
    throw new FhirError(400, 'invalid', `_offset must be a whole number from 0 to ${MAX_OFFSET}`, '_offset');
  }
  if (cursor !== undefined && rawOffset !== undefined) throw new FhirError(400, 'invalid', '_cursor and _offset may not be given together', '_offset');
  return { count, offset: rawOffset === undefined ? 0 : Number(rawOffset), ...(cursor === undefined ? {} : decodeCursor(cursor, key)) };
}

/**
 * The SQL of a page: the condition on the key (none on a first page), the order to read in
 * (reversed for a `previous` page) and LIMIT/OFFSET, one row more than the page to tell
 * whether more follow. `param` adds a value and answers its placeholder.
 */
export function pageSql(key: SortKey, page: Page, param: (value: unknown) => string): { where: string | undefined; orderBy: string; limit: string } {
  const backward = page.before !== undefined;
  const edge = page.after ?? page.before;
  const columns = key.columns.map((c) => c.sql).join(', ');
  // rows after a key in descending order have smaller keys; a previous page reads the other way
  const smaller = key.descending !== backward;
  const where = edge && `(${columns}) ${smaller ? '<' : '>'} (${edge.map((v, i) => `${param(v)}::${key.columns[i]!.type}`).join(', ')})`;
  const direction = key.descending !== backward ? 'DESC' : 'ASC';
  const orderBy = key.columns.map((c) => `${c.sql} ${direction}`).join(', ');
  const limit = `LIMIT ${page.count === 0 ? 0 : page.count + 1}${page.offset > 0 ? ` OFFSET ${page.offset}` : ''}`;
  return { where, orderBy, limit };
}

export interface PageOf<T> {
  items: T[];
  /** the key to continue after, when more follow */
  next?: string[];
  /** the key to go back before, when rows come before this page */
  previous?: string[];
}

/** What `pageSql` read (one more than the page, in its reading order) as the page, in search order. */
export function pageOfRows<T>(read: T[], keyOf: (row: T) => string[], page: Page): PageOf<T> {
  const more = read.length > page.count;
  const items = read.slice(0, page.count);
  if (page.before !== undefined) {
    items.reverse();
    // read backwards: `more` means rows before this page; the page it was asked from follows it
    return { items, ...(more && items[0] ? { previous: keyOf(items[0]) } : {}), ...(items.length > 0 ? { next: keyOf(items[items.length - 1]!) } : {}) };
  }
  const startedLater = page.after !== undefined || page.offset > 0;
  return { items, ...(more ? { next: keyOf(items[items.length - 1]!) } : {}), ...(startedLater && items[0] ? { previous: keyOf(items[0]) } : {}) };
}

/**
 * The total of a search when the page read came back without a row (the total is read along
 * with the rows): a first page without rows means none match; a later page, or `_count=0`,
 * asks `count`.
 */
export async function totalBesidesEmptyPage(page: Page, count: () => Promise<number>): Promise<number> {
  const first = page.after === undefined && page.before === undefined && page.offset === 0;
  return first && page.count > 0 ? 0 : count();
}

export interface Searchset {
  base: string;
  type: string;
  /** the search's own parameters, as the links repeat them */
  query: URLSearchParams;
  page: Page;
  found: PageOf<BundleEntry>;
  total: number;
}

/**
 * A searchset Bundle with absolute links: `self` (this page), `first`, and `next`/`previous`
 * where they lead somewhere. `entry` is left out when there is none (FHIR JSON has no empty arrays).
 */
export function searchsetBundle(s: Searchset) {
  const url = (extra: Record<string, string>) => {
    const q = new URLSearchParams(s.query);
    q.set('_count', String(s.page.count));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `${s.base}/${s.type}?${q.toString()}`;
  };
  const edge = s.page.after ? encodeCursor('n', s.page.after) : s.page.before ? encodeCursor('p', s.page.before) : undefined;
  const here: Record<string, string> = edge ? { _cursor: edge } : s.page.offset > 0 ? { _offset: String(s.page.offset) } : {};
  const link = [
    { relation: 'self', url: url(here) },
    { relation: 'first', url: url({}) },
    ...(s.found.previous && s.page.count > 0 ? [{ relation: 'previous', url: url({ _cursor: encodeCursor('p', s.found.previous) }) }] : []),
    ...(s.found.next && s.page.count > 0 ? [{ relation: 'next', url: url({ _cursor: encodeCursor('n', s.found.next) }) }] : []),
  ];
  return { resourceType: 'Bundle', type: 'searchset', total: s.total, link, ...(s.found.items.length > 0 ? { entry: s.found.items } : {}) };
}
