/**
 * Requests the gateway answers itself before any rule takes them (a bad target, two Hosts,
 * TRACE, no rule, a request Node's parser refuses). They are counted and access-logged like
 * every other answer ≥ 400, under rule and target "-", which no rule id can be (ids start
 * with a letter or digit); as everywhere, without the path or query, which may carry an MRN.
 */
import { performance } from 'node:perf_hooks';
import { recordAnswer } from './answer-record.js';
import type { ProxyRuntime } from './runtime.js';

export const NO_RULE = '-';

export function recordRefusal(rt: Pick<ProxyRuntime, 'metrics' | 'accessLog'>, method: string | undefined, status: number, requestId: string, started: number): void {
  recordAnswer(rt, rt.metrics.refusals, requestId, method ?? NO_RULE, status, (performance.now() - started) / 1000);
}
