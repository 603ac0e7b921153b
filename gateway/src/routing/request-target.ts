/**
 * Splits a request target into what the router matches on. Paths that could mean one thing
 * to Ficus and another to an upstream (dot segments, backslashes, NUL, bad escapes) are
 * refused: a rule that retires an endpoint must not be bypassed by spelling its path oddly.
 */

export interface RequestTarget {
  /** origin-form target to send upstream: path and query exactly as the client wrote them */
  forwardPath: string;
  /** decoded path segments, without empty trailing segment */
  segments: string[];
  /** raw query string without "?", or undefined */
  query: string | undefined;
}

export class BadTargetError extends Error {}

const SUSPICIOUS = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)|\\|%5c|%00/i;

export function parseRequestTarget(url: string): RequestTarget {
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (GET http://host/path): keep path and query only
    if (!/^https?:\/\//i.test(target)) throw new BadTargetError('the request target must be a path');
    const parsed = new URL(target);
    target = parsed.pathname + parsed.search;
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const hashless = rawPath.indexOf('#') === -1 ? rawPath : rawPath.slice(0, rawPath.indexOf('#'));
  if (SUSPICIOUS.test(hashless)) throw new BadTargetError('dot segments, backslashes and NUL are not allowed in a path');

  let segments: string[];
  if (hashless.length <= 1) {
    segments = [];
  } else {
    const end = hashless.charCodeAt(hashless.length - 1) === 47 ? hashless.length - 1 : hashless.length;
    segments = hashless.slice(1, end).split('/');
    if (hashless.includes('%')) {
      for (let i = 0; i < segments.length; i++) {
        try {
          segments[i] = decodeURIComponent(segments[i]!);
        } catch {
          throw new BadTargetError('invalid percent-encoding in the path');
        }
      }
    }
  }
  return { forwardPath: target, segments, query: q === -1 ? undefined : target.slice(q + 1) };
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
