/**
 * The bookkeeping of an answer the data plane gave: counted by rule, target and status
 * (ficus_http_requests_total, the latency histogram, the dashboard's traffic), and access-logged
 * when it failed, was a fallback, or FICUS_ACCESS_LOG is `all`. One place for proxied requests,
 * WebSocket handshakes and the gateway's own refusals, so that none is left out of the figures.
 * As everywhere, never the path or query (they may carry an MRN), and the request id as
 * request-id.ts shows it.
 */
import type { Logger } from '@ficus/contracts';
import type { GatewayMetrics, RouteStats } from '../ops/metrics.js';
import type { CompiledRule } from '../routing/router.js';
import { loggedRequestId } from './request-id.js';

export interface AnswerLog {
  /** the access log, and whether it takes every request or only failed and fallback ones (absent: only those) */
  accessLog: Logger | undefined;
  accessLogAll?: boolean;
}

/** `stats` names the rule, target and fallback (GatewayMetrics.route, or `refusals`); `method` is "-" when the parser could not read one. */
export function recordAnswer(rt: AnswerLog, stats: RouteStats, requestId: string, method: string | undefined, status: number, seconds: number): void {
  stats.record(status, seconds);
  if (rt.accessLog && (rt.accessLogAll || status >= 400 || stats.fallback)) {
    rt.accessLog.info(
      { reqId: loggedRequestId(requestId), method: method ?? '-', rule: stats.rule, target: stats.target, fallback: stats.fallback, status, ms: Math.round(seconds * 10_000) / 10 },
      'request',
    );
  }
}

/** Per-rule cache of stats objects, so recording a request costs no map lookup by string. */
const statsCache = new WeakMap<CompiledRule, Map<string, RouteStats>>();

export function routeStats(metrics: GatewayMetrics, rule: CompiledRule, target: string, fallback: boolean): RouteStats {
  let byTarget = statsCache.get(rule);
  if (!byTarget) statsCache.set(rule, (byTarget = new Map()));
  const key = fallback ? target + '\u0000f' : target;
  let s = byTarget.get(key);
  if (!s) byTarget.set(key, (s = metrics.route(rule.id, target, fallback)));
  return s;
}
