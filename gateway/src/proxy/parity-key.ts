/**
 * Which record a shadowed request was about, for the flip gate's breadth (distinct keys compared,
 * and those that differed): the rule's sticky key when the request has one, else its path
 * parameters, else its path and query. The parity store keeps only a keyed hash of it.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestTarget } from '../routing/request-target.js';
import type { RouteMatch } from '../routing/router.js';

export function comparedKey(match: RouteMatch, req: IncomingMessage, target: RequestTarget): string {
  const sticky = match.rule.stickyKey?.(req.headers, target, match.pattern.stickyIndex, req.rawHeaders);
  if (sticky !== undefined) return `sticky\u0000${sticky}`;
  const params: string[] = [];
  match.pattern.pattern.segments.forEach((s, i) => {
    if (s.kind === 'param') params.push(`${s.name}=${target.segments[i] ?? ''}`);
  });
  // a rule without parameters (a list, a search): each distinct request is its own record
  return params.length > 0 ? `params\u0000${params.join('\u0000')}` : `target\u0000${target.forwardPath}`;
}
