/**
 * A rule's header and query predicates, read over every copy of the value the request carries.
 *
 * Node joins the copies of most headers (`x-ward: 7` twice is "7, 7"), keeps only the first of
 * some (user-agent, authorization, content-type…), and a query string may name a parameter
 * twice, of which `queryParam` reads the first. An upstream may read the first copy, the last or
 * all of them. Read as Node joins it, `x-ward: 7` sent twice matched no `equals: "7"` and the
 * request went to a later rule (legacy) past a retired one.
 *
 * So each copy is tested: identical copies are one value, and copies that give the same answer
 * give that answer. Copies that disagree about a predicate (x-ward 7 and 8 for `equals: "7"`)
 * make the request ambiguous for that rule: whichever answer the gateway picked, an upstream
 * could read the other copy, and either a request for a retired rule's target would reach legacy
 * or a request for another ward would reach the rule's target. Neither guess is safe, so the
 * request is refused (400) instead. Taking the rule when any copy matches would put the 7-and-8
 * request on the ward-7 rule's target, whose upstream may read 8.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { queryParam } from './request-target.js';

export type ValueTest = (value: string | undefined) => boolean;

/** Copies of the value disagree about the predicate. */
export const AMBIGUOUS = 'ambiguous';
export type Verdict = boolean | typeof AMBIGUOUS;

/**
 * Headers of which Node keeps the first copy and drops the others (checked against the running
 * Node in repeated-values.test.ts): their joined value cannot tell whether there were more.
 */
export const FIRST_COPY_ONLY: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * The predicate over header `name` (lower case). `rawHeaders` (IncomingMessage.rawHeaders) is
 * scanned only when Node's value could hide a repeat: a header sent once (the usual case) costs
 * a property read and a substring search, not a pass over the raw list.
 */
export function testHeader(test: ValueTest, name: string, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): Verdict {
  const joined = headers[name];
  // Node lists every header it was sent: not there is not sent
  if (joined === undefined) return test(undefined);
  if (typeof joined === 'string' && !FIRST_COPY_ONLY.has(name) && !joined.includes(name === 'cookie' ? '; ' : ', ')) return test(joined);
  let first: string | undefined;
  let verdict = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const n = rawHeaders[i]!;
    if (n.length !== name.length || n.toLowerCase() !== name) continue;
    const value = rawHeaders[i + 1]!;
    if (first === undefined) {
      first = value;
      verdict = test(value);
    } else if (value !== first && test(value) !== verdict) {
      return AMBIGUOUS;
    }
  }
  // a caller whose raw list lacks the header (headers built by hand) gets Node's value
  return first === undefined ? test(Array.isArray(joined) ? joined.join(', ') : joined) : verdict;
}

/** The predicate over query parameter `name`, decoded as queryParam decodes it, over every copy. */
export function testQuery(test: ValueTest, name: string, query: string | undefined): Verdict {
  const once = queryParam(query, name);
  if (once === undefined || !query!.includes('&')) return test(once);
  const verdict = test(once);
  for (const pair of query!.split('&')) {
    // one pair read alone: the same decoding as queryParam's, without a second copy of it
    const value = queryParam(pair, name);
    if (value !== undefined && value !== once && test(value) !== verdict) return AMBIGUOUS;
  }
  return verdict;
}

/** Where the copies of a request disagree about a rule's predicate. */
export interface Ambiguity {
  in: 'header' | 'query';
  /** as the rule names it (a header in lower case): never the client's values */
  name: string;
}

export const AMBIGUOUS_SLUG = 'ambiguous-request';
export const AMBIGUOUS_TITLE = 'Ambiguous request';

/** The problem detail of a refused request: the rule's own names only, never a value (it may be an MRN). */
export function ambiguityDetail(ruleId: string, a: Ambiguity): string {
  const what = a.in === 'header' ? `header "${a.name}"` : `query parameter "${a.name}"`;
  return `the request sends ${what} more than once, with values that disagree about the condition of rule "${ruleId}": an upstream may read either copy, so the gateway does not pick one; send it once`;
}
