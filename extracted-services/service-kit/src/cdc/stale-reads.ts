/**
 * A read this service cannot answer freshly is refused, so that it is answered by the legacy
 * system instead: while the legacy system holds the record, the service's rows are a copy fed
 * by CDC, and a copy further behind than SERVICE_MAX_FEED_LAG_MS would answer 404 for a patient
 * registered in the legacy a moment ago, or show an update made there in its old state, with
 * nothing telling the gateway to look elsewhere. Safe reads (GET, HEAD) are answered 503 with
 * `x-ficus-stale: feed-lag`: the gateway takes that marker as a reason to ask the legacy
 * (fallback `stale-feed`) without counting it against the service's circuit; a client calling
 * the service directly gets an honest 503.
 *
 * While the service holds the record its rows are the truth of every write made through Ficus,
 * and the legacy's copy lags behind them (write-back): sending reads there would be the staler
 * answer, so they are served (legacy-side edits are the conflict rule's matter then).
 */
import type { FastifyInstance } from 'fastify';
import { problem, PROBLEM_CONTENT_TYPE } from '@ficus/contracts';
import type { SystemOfRecordSource } from '../runtime/system-of-record.js';
import type { FeedFreshness } from './feed-freshness.js';

export const STALE_HEADER = 'x-ficus-stale';
export const STALE_FEED_MARKER = 'feed-lag';

/** the kit's own routes answer whatever the feed's state: probes and scrapes must go on */
const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export interface StaleReadGuard {
  freshness: FeedFreshness;
  systemOfRecord: SystemOfRecordSource;
  /** SERVICE_MAX_FEED_LAG_MS; 0: never refuse */
  maxLagMs: number;
}

/** Whether reads are refused now, and why (for /readyz). */
export function staleBecause(g: StaleReadGuard, now = Date.now()): string | undefined {
  if (g.maxLagMs <= 0 || g.systemOfRecord.current() !== 'legacy') return undefined;
  const { lagMs } = g.freshness.lag(now);
  if (lagMs === null || lagMs <= g.maxLagMs) return undefined;
  return `the CDC feed from the legacy database is ${Math.round(lagMs / 1000)} s behind (SERVICE_MAX_FEED_LAG_MS ${g.maxLagMs})`;
}

export function refuseStaleReads(app: FastifyInstance, g: StaleReadGuard): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    if (OPS_ROUTES.has(request.routeOptions.url ?? '')) return;
    const why = staleBecause(g);
    if (!why) return;
    await reply
      .code(503)
      .header(STALE_HEADER, STALE_FEED_MARKER)
      .header('retry-after', '1')
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send(problem(503, 'stale-feed', 'Data not fresh', `${why}: ask the legacy system`));
  });
}
