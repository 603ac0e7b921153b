/**
 * Which side of a rule takes a request: the legacy upstream or the rule's target. One place,
 * used by the proxy, the WebSocket passthrough and the admin API's explain.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { bucketOf } from './canary.js';
import type { RequestTarget } from './request-target.js';
import type { RouteMatch } from './router.js';

export interface Decision {
  toTarget: boolean;
  /** canary: the sticky key read from the request, and its bucket (0-9999) */
  key?: string;
  bucket?: number;
}

/** `rawHeaders` (IncomingMessage.rawHeaders) is read only for a sticky header sent more than once. */
export function decide(match: RouteMatch, headers: IncomingHttpHeaders, target: RequestTarget, rawHeaders: readonly string[]): Decision {
  const rule = match.rule;
  switch (rule.mode) {
    case 'legacy':
    case 'shadow':
      // in shadow, legacy answers; the copy to the target is the proxy's business
      return { toTarget: false };
    case 'new':
    case 'retired':
      return { toTarget: true };
    case 'canary': {
      const key = rule.stickyKey?.(headers, target, match.pattern.stickyIndex, rawHeaders);
      if (key === undefined) return { toTarget: false };
      // at 0 % nobody moves: skip the hash
      if (rule.threshold === 0) return { toTarget: false, key };
      const bucket = bucketOf(rule.salt, key);
      return { toTarget: bucket < rule.threshold, key, bucket };
    }
  }
}
