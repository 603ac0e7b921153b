/**
 * Splits a request target into what the router matches on. A rule that retires an endpoint
 * must not be bypassed by spelling its path the way only the legacy server understands, so
 * the router sees the path as common servers resolve it: a run of slashes is one slash
 * (nginx, Apache and IIS merge them; Ficus forwards the merged path, as nginx does), and path
 * parameters (`/a;jsessionid=1/b`) are not part of a segment (Tomcat and Jetty drop them
 * before mapping; they are forwarded as written). What could still mean one thing to Ficus
 * and another upstream is refused: dot segments (`..;` included, Tomcat's reading of it),
 * backslashes, NUL, bad escapes, and a `#` anywhere.
 */

export interface RequestTarget {
  /** origin-form target to send upstream: path and query as the client wrote them, runs of slashes merged */
  forwardPath: string;
  /** decoded path segments, without path parameters, empty segments or a trailing slash */
  segments: string[];
  /** raw query string without "?", or undefined */
  query: string | undefined;
  /** the query with its names folded to lower case, once foldedQuery made it */
  foldedQuery?: string;
}

export class BadTargetError extends Error {}

/**
 * What an escaped slash (`%2F`) in a path is: `keep`, data inside its segment (as Node frameworks
 * route it); `decode`, a separator (as nginx reads it: set it when the legacy server does, or a
 * rule could be bypassed by escaping the slashes of its path); `refuse`, 400 (Tomcat's and
 * Apache's default). In every mode, dot segments between escaped slashes are refused.
 */
export const ENCODED_SLASHES = ['keep', 'decode', 'refuse'] as const;
export type EncodedSlashes = (typeof ENCODED_SLASHES)[number];

const ESCAPED_SLASH = /%2f/i;

const SUSPICIOUS = /\\|%5c|%00/i;

/**
 * A target never carries a fragment (RFC 9112 §3.2), but clients such as Node's http.get send
 * one as written, and the upstream (find-my-way, most servers) ends the path at the first `?`
 * or `#` and reads what follows as the query: `/api/results#mrn=1` is that patient's results
 * there, and would be a path without a query here, past any rule that needs `mrn`.
 */
export const FRAGMENT_DETAIL = 'a request target cannot carry a fragment ("#"; RFC 9112 §3.2): send the query after "?", or escape "#" as %23';

export function parseRequestTarget(url: string, encodedSlashes: EncodedSlashes = 'keep'): RequestTarget {
  if (url.includes('#')) throw new BadTargetError(FRAGMENT_DETAIL);
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (GET http://host/path): keep path and query only
    if (!/^https?:\/\//i.test(target)) throw new BadTargetError('the request target must be a path');
    let parsed: URL;
    try {
      parsed = new URL(target);
    } catch {
      throw new BadTargetError('the request target is not a valid absolute URL');
    }
    target = parsed.pathname + parsed.search;
  }
  const q = target.indexOf('?');
  const query = q === -1 ? undefined : target.slice(q + 1);
  let rawPath = q === -1 ? target : target.slice(0, q);
  if (rawPath.includes('//')) {
    rawPath = rawPath.replace(/\/{2,}/g, '/');
    target = query === undefined ? rawPath : `${rawPath}?${query}`;
  }
  if (SUSPICIOUS.test(rawPath)) throw new BadTargetError('backslashes and NUL are not allowed in a path');

  const segments: string[] = [];
  if (rawPath.length > 1) {
    const end = rawPath.charCodeAt(rawPath.length - 1) === 47 ? rawPath.length - 1 : rawPath.length;
    for (const part of rawPath.slice(1, end).split('/')) {
      const semi = part.indexOf(';');
      let segment = semi === -1 ? part : part.slice(0, semi);
      let slashes = false;
      if (segment.includes('%')) {
        slashes = ESCAPED_SLASH.test(segment);
        if (slashes && encodedSlashes === 'refuse') throw new BadTargetError('an escaped slash (%2F) in the path is refused (FICUS_ENCODED_SLASHES=refuse)');
        try {
          segment = decodeURIComponent(segment);
        } catch {
          throw new BadTargetError('invalid percent-encoding in the path');
        }
      }
      if (!slashes) {
        if (isDotSegment(segment)) throw new BadTargetError(DOT_SEGMENTS);
        if (segment !== '') segments.push(segment);
        continue;
      }
      // a server that reads %2F as "/" resolves dots between them: refused whatever the mode
      const pieces = segment.split('/');
      if (pieces.some(isDotSegment)) throw new BadTargetError(DOT_SEGMENTS);
      if (encodedSlashes === 'keep') segments.push(segment);
      else for (const piece of pieces) if (piece !== '') segments.push(piece);
    }
  }
  return { forwardPath: target, segments, query };
}

const DOT_SEGMENTS = 'dot segments are not allowed in a path';

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** Reads one query parameter from a raw query string (first occurrence), decoded. */
export function queryParam(query: string | undefined, name: string): string | undefined {
  if (!query) return undefined;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (decodeQueryComponent(key) === name) return eq === -1 ? '' : decodeQueryComponent(pair.slice(eq + 1));
  }
  return undefined;
}

/**
 * The query as a server that reads parameter names regardless of case reads it (ASP.NET on IIS,
 * the legacy FICUS_PATHS_CASE_INSENSITIVE is set for): each name decoded and lower-cased, so
 * `MRN`, `Mrn` and `%4Drn` all read as `mrn`, and values as written (an MRN or a code may be
 * case-significant). `mrn=1&MRN=2`, which ASP.NET reads as one parameter "1,2", becomes a
 * parameter given twice, which repeated-values.ts reads as any repeat. Made at most once per
 * request, by the first rule that reads the query on such a gateway; never forwarded.
 */
export function foldedQuery(target: RequestTarget): string | undefined {
  if (target.query === undefined) return undefined;
  return (target.foldedQuery ??= foldNames(target.query));
}

function foldNames(query: string): string {
  // no capital and no escape that could hide one: nothing to fold (the usual query)
  if (!query.includes('%') && query.toLowerCase() === query) return query;
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = decodeQueryComponent(eq === -1 ? pair : pair.slice(0, eq));
      const folded = name.toLowerCase();
      if (folded === name) return pair;
      // written back so that queryParam decodes it to exactly the folded name
      return folded.replace(/[%&=+]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()) + (eq === -1 ? '' : pair.slice(eq));
    })
    .join('&');
}

function decodeQueryComponent(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** Reads one cookie from a Cookie header value. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
