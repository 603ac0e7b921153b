/**
 * Where the proxy meets recent-writes.ts: which writes are remembered (a non-safe request that
 * legacy answered 2xx: its path, and the Location of what it created) and which reads they
 * hold on legacy (safe methods of the same path).
 */
import type { RequestTarget } from '../routing/request-target.js';
import { parseRequestTarget } from '../routing/request-target.js';
import { isSafeMethod } from '../routing/router.js';
import type { ProxyRuntime } from './runtime.js';

function pathKey(rt: ProxyRuntime, target: RequestTarget): string {
  const path = '/' + target.segments.join('/');
  return rt.router.caseInsensitive ? path.toLowerCase() : path;
}

export function writtenRecently(rt: ProxyRuntime, method: string, target: RequestTarget): boolean {
  // on the hot path: nothing remembered, no key built
  return rt.recentWrites.size > 0 && isSafeMethod(method) && rt.recentWrites.isRecent(pathKey(rt, target));
}

/** After legacy answered `method` on `target` with a 2xx whose headers are `rawHeaders`. */
export function rememberWrite(rt: ProxyRuntime, method: string | undefined, target: RequestTarget, rawHeaders: Buffer[]): void {
  if (!rt.recentWrites.enabled || isSafeMethod(method ?? 'GET')) return;
  rt.recentWrites.remember(pathKey(rt, target));
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 8 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'location') continue;
    try {
      // relative or absolute: only its path counts (the gateway is the client's origin)
      const created = new URL(rawHeaders[i + 1]!.toString('latin1'), 'http://gateway.invalid').pathname;
      rt.recentWrites.remember(pathKey(rt, parseRequestTarget(created, rt.router.encodedSlashes)));
    } catch {
      // a Location that is no URL or path names nothing to hold
    }
  }
}
