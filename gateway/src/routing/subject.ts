/**
 * Which record a request concerns, for read-your-writes (proxy/read-after-write.ts): the value of
 * its rule's sticky path or query parameter, named by the parameter. The shipped rules key one
 * patient's demographics (`/api/patients/:mrn`), encounters and results (`?mrn=`) by `mrn`, so a
 * write to the one and reads of the others name the same subject, `mrn` 100001, whichever rule
 * serves them. Rules that name their parameters alike are taken to mean the same kind of record:
 * at worst, a read is held on legacy that did not need to be. A sticky header or cookie names the
 * client (a user, a session), not a record: no subject.
 */
import { foldedQuery, queryParam, type RequestTarget } from './request-target.js';
import type { RouteMatch } from './router.js';

/** `kind` is the parameter's name in the rule; return true to stop */
export type SubjectVisitor = (kind: string, value: string) => boolean;

/**
 * Calls `visit` with each subject of the request until it returns true, and says whether it did.
 * A repeated query parameter names each of its copies: which one an upstream reads is its own
 * business, so every one of them counts. On a gateway that reads query names regardless of case,
 * `?MRN=` names the subject as `?mrn=` does (and `?mrn=1&MRN=2` names both).
 */
export function anySubject(match: RouteMatch, target: RequestTarget, visit: SubjectVisitor): boolean {
  const sticky = match.rule.rule.sticky;
  if (sticky === undefined) return false;
  if (sticky.param !== undefined) {
    const value = match.pattern.stickyIndex < 0 ? undefined : target.segments[match.pattern.stickyIndex];
    return value !== undefined && value !== '' && visit(sticky.param, value);
  }
  if (sticky.query === undefined) return false;
  const name = match.rule.foldQueryNames ? sticky.query.toLowerCase() : sticky.query;
  const query = match.rule.foldQueryNames ? foldedQuery(target) : target.query;
  const first = queryParam(query, name);
  if (first === undefined) return false;
  if (first !== '' && visit(name, first)) return true;
  if (!query!.includes('&')) return false;
  for (const pair of query!.split('&')) {
    // one pair read alone: decoded as queryParam decodes it
    const value = queryParam(pair, name);
    if (value !== undefined && value !== '' && value !== first && visit(name, value)) return true;
  }
  return false;
}
