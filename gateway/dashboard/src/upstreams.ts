/**
 * GET /api/upstreams as the Upstreams panel reads it, and the panel's pure part: labels and
 * tones of health and circuit states, the warnings of every upstream in one list.
 * The warnings' words are the admin API's (gateway/src/admin/circuit-impact.ts, which explain
 * uses too); the page adds since when. No imports: the unit test runs it under Node, and checks
 * that these types read what the API serves.
 */

export type CircuitState = 'closed' | 'half-open' | 'open';
export type Health = 'unknown' | 'healthy' | 'unhealthy';
export type HttpMode = 'legacy' | 'shadow' | 'canary' | 'new' | 'retired';

export interface RuleOnUpstream {
  id: string;
  mode: HttpMode;
  role: 'target' | 'legacy';
  percent: number | null;
  fallback: boolean;
  sends: boolean;
  /** held in legacy by the instance's emergency override file: `mode` is what it serves, whatever the rule store says */
  emergency?: true;
}

export interface UpstreamState {
  name: string;
  /** where this gateway instance sends its requests (an environment override included) */
  url: string;
  health: Health;
  healthChecks: { enabled: boolean; intervalMs: number };
  circuit: { state: CircuitState; since: string; reason: string | null };
  lastError: string | null;
  rules: RuleOnUpstream[];
  warnings: { rule: string; mode: HttpMode; text: string }[];
}

export interface UpstreamsAnswer {
  scope: 'instance';
  note: string;
  instance: { hostname: string; pid: number; startedAt: string };
  at: string;
  rules: { source: 'store' | 'files'; version: number | null; state: 'starting' | 'ready' | 'degraded' };
  upstreams: UpstreamState[];
  /** this instance's emergency override file, when one is in force */
  emergency?: { file: string; since: string; by?: string; reason?: string; pinned: string[] };
}

/** a CSS class of styles.css: ok, warn, error or muted */
export type Tone = 'ok' | 'warn' | 'error' | 'muted';

export function healthLabel(u: Pick<UpstreamState, 'health' | 'healthChecks'>): { text: string; tone: Tone } {
  if (u.health === 'healthy') return { text: 'healthy', tone: 'ok' };
  if (u.health === 'unhealthy') return { text: 'unhealthy', tone: 'error' };
  return { text: u.healthChecks.enabled ? 'unknown (no verdict yet)' : 'unknown (health checks off)', tone: 'muted' };
}

export const circuitTone = (state: CircuitState): Tone => (state === 'closed' ? 'ok' : state === 'half-open' ? 'warn' : 'error');

/** `patients-read (new)`, `patients-write (canary 50 %)`, `legacy-default (legacy)`, `patients-read (legacy: held by the emergency file)` */
export const ruleLabel = (r: Pick<RuleOnUpstream, 'id' | 'mode' | 'percent' | 'emergency'>): string =>
  `${r.id} (${r.mode === 'canary' ? `canary ${r.percent ?? 0} %` : r.mode}${r.emergency ? ': held by the emergency file' : ''})`;

/** why a rule sends nothing to its target, said beside it */
export const sendsNothing = (r: Pick<RuleOnUpstream, 'emergency'>): string => (r.emergency ? ' – sends nothing here while the emergency file holds it' : ' – sends nothing here');

export interface Warning {
  upstream: string;
  rule: string;
  state: CircuitState;
  since: string;
  text: string;
}

/** every upstream's warnings in one list, with the state and since when of the circuit they are about */
export const allWarnings = (a: UpstreamsAnswer): Warning[] =>
  a.upstreams.flatMap((u) => u.warnings.map((w) => ({ upstream: u.name, rule: w.rule, state: u.circuit.state, since: u.circuit.since, text: w.text })));
