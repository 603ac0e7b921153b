/**
 * Where the proxy meets recent-writes.ts: which writes are remembered (a non-safe request that
 * legacy answered 2xx: its path, the Location of what it created, and the record each of them
 * concerns, routing/subject.ts) and which reads they hold on legacy (safe requests of the same
 * path, or about the same record whichever rule serves them: the patient just registered is
 * read whole from legacy, demographics, encounters and results, not a mix of both sides).
 */
import type { IncomingMessage } from 'node:http';
import type { RequestTarget } from '../routing/request-target.js';
import { parseRequestTarget } from '../routing/request-target.js';
import { isAmbiguous, isSafeMethod, type RouteMatch } from '../routing/router.js';
import { anySubject } from '../routing/subject.js';
import type { ProxyRuntime } from './runtime.js';

// a path key begins with "/", a subject key with NUL: the two never meet
function pathKey(rt: ProxyRuntime, target: RequestTarget): string {
  const path = '/' + target.segments.join('/');
  return rt.router.caseInsensitive ? path.toLowerCase() : path;
}

function subjectKey(rt: ProxyRuntime, kind: string, value: string): string {
  // as the path key: a legacy server that reads paths regardless of case reads its ids so too,
  // and its query names (a rule's `?MRN=` and another's `:mrn` name one kind of record)
  return rt.router.caseInsensitive ? ('\u0000' + kind + '\u0000' + value).toLowerCase() : '\u0000' + kind + '\u0000' + value;
}

export function writtenRecently(rt: ProxyRuntime, method: string, match: RouteMatch, target: RequestTarget): boolean {
  // on the hot path: nothing remembered, no key built
  if (rt.recentWrites.size === 0 || !isSafeMethod(method)) return false;
  const recent = rt.recentWrites;
  return recent.isRecent(pathKey(rt, target)) || anySubject(match, target, (kind, value) => recent.isRecent(subjectKey(rt, kind, value)));
}

/**
 * After legacy answered `req` (which `match` routed, to `target`) with a 2xx whose headers are
 * `rawHeaders`: a write's path, its record and those of its Location are remembered.
 */
export function rememberWrite(rt: ProxyRuntime, req: IncomingMessage, match: RouteMatch, target: RequestTarget, rawHeaders: Buffer[]): void {
  if (!rt.recentWrites.enabled || isSafeMethod(req.method ?? 'GET')) return;
  const recent = rt.recentWrites;
  const remember = (kind: string, value: string): boolean => {
    recent.remember(subjectKey(rt, kind, value));
    return false;
  };
  recent.remember(pathKey(rt, target));
  anySubject(match, target, remember);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 8 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'location') continue;
    let created: RequestTarget;
    try {
      // relative or absolute: only its path and query count (the gateway is the client's origin)
      const url = new URL(rawHeaders[i + 1]!.toString('latin1'), 'http://gateway.invalid');
      created = parseRequestTarget(url.pathname + url.search, rt.router.encodedSlashes);
    } catch {
      continue; // a Location that is no URL or path names nothing to hold
    }
    recent.remember(pathKey(rt, created));
    // a POST's own target names no record yet: the rule that would read what it created does
    const read = rt.router.route('GET', created, req.headers, req.rawHeaders);
    if (read !== undefined && !isAmbiguous(read)) anySubject(read, created, remember);
  }
}
