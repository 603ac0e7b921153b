/**
 * /api/upstreams: this gateway instance's view of the upstreams it sends requests to: health
 * (from its active checks), circuit state with since when and why, the last health-check error,
 * the rules it serves now that point at each one, and a warning for every rule whose requests an
 * open circuit or failing checks affect. Read from the instance's own registry (the pools, checks
 * and breakers the proxy uses), not from the store: each instance has its own, and the answer
 * says which instance it is.
 */
import { hostname } from 'node:os';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HTTP_MODES, type RuleSourceStatus } from '@ficus/contracts';
import { ruleOnTarget, sendsToTarget, targetWarning } from '../circuit-impact.js';
import type { CompiledRule } from '../../routing/router.js';
import type { CircuitState } from '../../upstreams/circuit-breaker.js';
import type { Health } from '../../upstreams/health-check.js';
import type { UpstreamRegistry } from '../../upstreams/registry.js';
import type { EmergencyFile } from '../../ops/emergency-file.js';

/** What the admin API reads of the instance it runs in. */
export interface InstanceView {
  /** the instance's upstreams: pools, health checkers and circuit breakers, as the proxy uses them */
  upstreams: UpstreamRegistry;
  /** the HTTP rules the instance serves now (its router's), and where they come from */
  served: () => { rules: readonly CompiledRule[]; status: RuleSourceStatus };
  /** the instance's emergency override file (ops/emergency-file.ts) */
  emergency?: Pick<EmergencyFile, 'status' | 'pins'>;
}

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Enum = <T extends string>(values: readonly T[], description?: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'half-open', 'open'];
const HEALTHS: readonly Health[] = ['unknown', 'healthy', 'unhealthy'];
const Iso = (description: string) => Type.String({ description: `${description} (ISO 8601)` });

const RuleOnUpstreamSchema = Type.Object({
  id: Type.String(),
  mode: Enum(HTTP_MODES),
  role: Enum(['target', 'legacy'] as const, 'target: the upstream is the rule\'s new service; legacy: its legacy side'),
  percent: Nullable(Type.Number({ description: 'canary only' })),
  fallback: Type.Boolean({ description: 'the rule\'s fallback setting: safe requests its target cannot take are answered by legacy' }),
  sends: Type.Boolean({ description: 'in its current mode, the rule sends requests (or shadow copies, or fallbacks) to this upstream' }),
  emergency: Type.Optional(Type.Literal(true, { description: "held in legacy by the instance's emergency override file: `mode` is what it serves (legacy), whatever the rule store says" })),
});

const UpstreamStateSchema = Type.Object({
  name: Type.String(),
  url: Type.String({ description: "where this instance sends the upstream's requests: the rule set's URL, or FICUS_UPSTREAM_<NAME>_URL where the instance's environment sets one (user and password never shown)" }),
  health: Enum(HEALTHS, 'from the active health checks; unknown until the first verdict, or when checks are off'),
  healthChecks: Type.Object({ enabled: Type.Boolean(), intervalMs: Type.Integer() }),
  circuit: Type.Object({
    state: Enum(CIRCUIT_STATES, 'open: requests are not sent (safe ones fall back to legacy where the rule allows, others 503); half-open: one trial request at a time'),
    since: Iso('since when it is in this state (the upstream\'s declaration for a circuit that never changed)'),
    reason: Nullable(Type.String({ description: 'why it got there: failure codes, statuses, health-check errors; never a request\'s path or body' })),
  }),
  lastError: Nullable(Type.String({ description: 'the error of the last failed health check, cleared when one passes: a connection error or a status, never a request\'s path or body' })),
  rules: Type.Array(RuleOnUpstreamSchema, { description: 'the HTTP rules this instance serves that name the upstream, in rule order' }),
  warnings: Type.Array(
    Type.Object({ rule: Type.String(), mode: Enum(HTTP_MODES), text: Type.String() }),
    { description: 'rules whose requests (or shadow copies) the circuit or failing health checks affect now, and how' },
  ),
});

export const UpstreamsAnswerSchema = Type.Object({
  scope: Type.Literal('instance', { description: 'always "instance": one gateway instance\'s view' }),
  note: Type.String(),
  instance: Type.Object({ hostname: Type.String(), pid: Type.Integer(), startedAt: Iso('when the gateway process started') }),
  at: Iso('when this was read'),
  rules: Type.Object({
    source: Enum(['store', 'files'] as const),
    version: Nullable(Type.Integer({ description: 'the rule set version this instance serves (store only)' })),
    state: Enum(['starting', 'ready', 'degraded'] as const),
  }),
  upstreams: Type.Array(UpstreamStateSchema),
  emergency: Type.Optional(
    Type.Object(
      { file: Type.String(), since: Iso('since when this instance applies it'), by: Type.Optional(Type.String()), reason: Type.Optional(Type.String()), pinned: Type.Array(Type.String(), { description: 'the HTTP rules it holds in legacy' }) },
      { description: "this instance's emergency override file, when one is in force (the rules it holds are marked `emergency`)" },
    ),
  ),
});

export type UpstreamsAnswer = Static<typeof UpstreamsAnswerSchema>;
export type UpstreamState = Static<typeof UpstreamStateSchema>;

export const INSTANCE_NOTE =
  "This gateway instance's view: its own health checks and circuit breakers, and the HTTP rules it serves now. Every instance checks its upstreams on its own, so another may see them otherwise; HL7 rules are the HL7 adapter's and are not listed.";

/** Errors and reasons as shown: one line, at most 200 characters (they come from checks and failure codes, never from a request). */
export function shortText(s: string | undefined): string | null {
  if (s === undefined || s === '') return null;
  // eslint-disable-next-line no-control-regex
  const line = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** An upstream's URL as shown: without the user and password a URL may carry. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** Does the rule send anything to its legacy side in its current mode? (fallbacks count) */
const sendsToLegacy = (rule: CompiledRule): boolean => rule.mode === 'legacy' || rule.mode === 'shadow' || (rule.mode === 'canary' && (rule.rule.percent ?? 0) < 100) || (rule.mode === 'new' && rule.fallback);

const startedAt = new Date(Date.now() - process.uptime() * 1000).toISOString();

/** The answer of GET /api/upstreams, from the instance as it is now. */
export function upstreamsOf(view: InstanceView, now = Date.now()): UpstreamsAnswer {
  const { rules, status } = view.served();
  const o = view.emergency?.status().override;
  // a held rule serves legacy whatever its stored mode: said, or its target looks unused for no reason
  const held = (r: CompiledRule) => (r.emergency ? { emergency: true as const } : {});
  return {
    scope: 'instance',
    note: INSTANCE_NOTE,
    instance: { hostname: hostname(), pid: process.pid, startedAt },
    at: new Date(now).toISOString(),
    rules: { source: status.kind, version: status.version ?? null, state: status.state },
    upstreams: view.upstreams.all().map((u) => {
      const circuit = u.breaker.snapshot();
      const condition = { name: u.name, circuit: circuit.state, health: u.health.health };
      const onIt: UpstreamState['rules'] = [];
      const warnings: UpstreamState['warnings'] = [];
      for (const r of rules) {
        const percent = r.mode === 'canary' ? (r.rule.percent ?? 0) : null;
        if (r.target === u.name) {
          onIt.push({ id: r.id, mode: r.mode, role: 'target', percent, fallback: r.fallback, sends: sendsToTarget(r.mode, percent ?? undefined), ...held(r) });
          const text = targetWarning(ruleOnTarget(r), condition);
          if (text) warnings.push({ rule: r.id, mode: r.mode, text });
        }
        if (r.legacy === u.name) onIt.push({ id: r.id, mode: r.mode, role: 'legacy', percent, fallback: r.fallback, sends: sendsToLegacy(r), ...held(r) });
      }
      return {
        name: u.name,
        url: shownUrl(u.config.url),
        health: u.health.health,
        healthChecks: { enabled: u.config.healthCheck.enabled, intervalMs: u.config.healthCheck.intervalMs },
        circuit: { state: circuit.state, since: new Date(circuit.since).toISOString(), reason: shortText(circuit.reason) },
        lastError: shortText(u.health.lastError),
        rules: onIt,
        warnings,
      };
    }),
    ...(o ? { emergency: { file: view.emergency!.status().file, since: o.since, ...(o.by !== undefined ? { by: o.by } : {}), ...(o.reason !== undefined ? { reason: o.reason } : {}), pinned: o.pinned } } : {}),
  };
}

export function upstreamRoutes(app: FastifyInstance, view: InstanceView): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/api/upstreams', {
    config: { role: 'viewer' },
    schema: {
      tags: ['upstreams'],
      summary: "This gateway instance's upstreams: health, circuit state (since when, why), last health-check error, the rules pointing at each, and warnings for rules an open circuit affects",
      description: INSTANCE_NOTE,
      response: { 200: UpstreamsAnswerSchema },
    },
    handler: async () => upstreamsOf(view),
  });
}
