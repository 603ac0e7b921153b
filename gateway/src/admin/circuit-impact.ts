/**
 * What an upstream's circuit (and failing health checks) does to the requests of a rule that
 * targets it, in words. One place for explain (one request) and /api/upstreams (a whole rule,
 * as the dashboard shows it), both following the proxy (proxy/exchange.ts: `canFallback`): a
 * request refused by the target's circuit is answered by legacy when it is safe, the rule is not
 * retired and its `fallback` is on; any other gets 503. In shadow mode legacy answers anyway, and
 * no copy is sent while the circuit is open (proxy/shadow.ts).
 */
import { SAFE_METHODS, type HttpMode } from '@ficus/contracts';
import type { CompiledRule } from '../routing/router.js';
import type { CircuitState } from '../upstreams/circuit-breaker.js';
import type { Health } from '../upstreams/health-check.js';

/** Does a request that the target's circuit refuses fall back to legacy? As the proxy decides it. */
export function fallsBack(mode: string, fallback: boolean, safe: boolean): boolean {
  return safe && mode !== 'retired' && fallback;
}

/** One request, refused by the open circuit of its target: explain's words. */
export function refusedRequestOutcome(mode: string, fallback: boolean, safe: boolean): string {
  return fallsBack(mode, fallback, safe) ? 'legacy answers (fallback)' : 'the request gets 503';
}

/** A rule as far as its target's trouble is concerned (a CompiledRule has all of it). */
export interface RuleOnTarget {
  id: string;
  mode: HttpMode;
  /** canary only (a CompiledRule has it in `rule.percent`: see ruleOnTarget) */
  percent: number | undefined;
  /** the rule's `fallback` (default true) */
  fallback: boolean;
  /** the methods the rule takes (null: every method; GET brings HEAD) */
  methods: ReadonlySet<string> | null;
}

/** A rule the gateway serves, as targetWarning reads it. */
export const ruleOnTarget = (r: CompiledRule): RuleOnTarget => ({ id: r.id, mode: r.mode, percent: r.mode === 'canary' ? (r.rule.percent ?? 0) : undefined, fallback: r.fallback, methods: r.methods });

export interface UpstreamCondition {
  name: string;
  circuit: CircuitState;
  health: Health;
}

/** the upstream's circuit is not closed, or its health checks fail */
export const inTrouble = (u: Pick<UpstreamCondition, 'circuit' | 'health'>): boolean => u.circuit !== 'closed' || u.health === 'unhealthy';

/** Does the rule send requests (or, in shadow mode, copies) to its target? */
export const sendsToTarget = (mode: HttpMode, percent: number | undefined): boolean => mode === 'new' || mode === 'retired' || mode === 'shadow' || (mode === 'canary' && (percent ?? 0) > 0);

function modeLabel(rule: RuleOnTarget): string {
  return rule.mode === 'canary' ? `canary ${rule.percent ?? 0} %` : rule.mode;
}

/** What happens to the requests the rule sends to the target while its circuit refuses them (open, or half-open with its trial under way). */
function whileRefused(rule: RuleOnTarget): string {
  if (rule.mode === 'retired') return 'every request 503 (retired: legacy is never called)';
  if (!rule.fallback) return 'every request 503 (fallback off)';
  const anySafe = rule.methods === null || [...rule.methods].some((m) => SAFE_METHODS.has(m));
  if (!fallsBack(rule.mode, rule.fallback, anySafe)) return `every request 503 (only ${[...SAFE_METHODS].join(', ')} fall back to legacy)`;
  return 'safe requests answered by legacy (fallback), others 503';
}

/** ... while the circuit is still closed but the health checks fail: requests still go, and may fail. */
function whileFailing(rule: RuleOnTarget): string {
  const anySafe = rule.methods === null || [...rule.methods].some((m) => SAFE_METHODS.has(m));
  return fallsBack(rule.mode, rule.fallback, anySafe) ? 'requests still sent to it; a safe one that fails is answered by legacy (fallback), others 502/504' : 'requests still sent to it; one that fails gets 502/504';
}

/**
 * The warning for a rule whose target is in trouble on this instance, or null when the rule's
 * requests are not affected (a rule in mode legacy, a canary at 0 %, a target in good order):
 * `patients-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503`.
 */
export function targetWarning(rule: RuleOnTarget, upstream: UpstreamCondition): string | null {
  if (!inTrouble(upstream) || !sendsToTarget(rule.mode, rule.percent)) return null;
  const head = `${rule.id}: ${modeLabel(rule)} → ${upstream.name}`;
  const state = upstream.circuit === 'closed' ? 'health checks failing, circuit still closed' : `circuit ${upstream.circuit}`;
  let outcome: string;
  if (rule.mode === 'shadow') {
    outcome = upstream.circuit === 'open' ? 'legacy answers as always; no shadow copies are sent (nothing compared)' : 'legacy answers as always; shadow copies may fail';
  } else if (upstream.circuit === 'closed') {
    outcome = whileFailing(rule);
  } else {
    outcome = (upstream.circuit === 'half-open' ? 'one trial request at a time goes through; ' : '') + whileRefused(rule);
  }
  const rest = rule.mode === 'canary' ? `; the other ${Math.round((100 - (rule.percent ?? 0)) * 100) / 100} % of keys stay on legacy` : '';
  return `${head}, ${state}: ${outcome}${rest}`;
}
