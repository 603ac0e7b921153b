/**
 * /api/parity (how well the new services answer like legacy, per rule, with the gate's state),
 * /api/traffic (the live split per rule, from every instance) and /api/whoami (the caller's
 * role, so the dashboard shows only what it may do).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { durationMinutes, formatDiff, gateOpen, resolveGate, type Hl7Rule, type HttpRule, type ParityFigures, type ParityStore, type RuleSet } from '@ficus/contracts';
import { sendProblem } from '../admin-http.js';
import type { ControlPlane } from '../control-plane.js';
import { UnknownRuleError } from '../rule-changes.js';

const Window = Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}[mhd]$', description: 'a window of minutes, hours or days: 5m, 1h, 7d (default: each rule\'s gate window, else 1h)' }));

type AnyRule = (HttpRule & { kind: 'http' }) | (Hl7Rule & { kind: 'hl7' });

function allRules(rs: RuleSet): AnyRule[] {
  return [...rs.http.map((r) => ({ ...r, kind: 'http' as const })), ...(rs.hl7 ?? []).map((r) => ({ ...r, kind: 'hl7' as const }))];
}

/** Rules whose parity is of interest: shadowed, gated, HL7 rules with lookups. */
function interesting(r: AnyRule): boolean {
  return r.mode === 'shadow' || r.parity !== undefined;
}

function withGate(f: ParityFigures, rule: AnyRule | undefined) {
  const gate = resolveGate(rule?.parity);
  return {
    ...f,
    kind: rule?.kind ?? null,
    mode: rule?.mode ?? null,
    gate: gate
      ? {
          threshold: gate.threshold,
          minCompared: gate.minCompared,
          minKeys: gate.minKeys,
          window: gate.window,
          gateAbovePercent: gate.gateAbovePercent ?? null,
          // figures over the gate's own window decide; a different query window is for reading only
          // (keys of every target count here; a flip counts those of its target: parity-gate.ts)
          open: f.window === gate.window ? gateOpen(f, gate) : null,
        }
      : null,
  };
}

export function parityRoutes(app: FastifyInstance, cp: ControlPlane, parity: ParityStore): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const figuresFor = async (rules: AnyRule[], ids: string[], window: string | undefined) => {
    const byId = new Map(rules.map((x) => [x.id, x]));
    const windowOf = (id: string) => window ?? resolveGate(byId.get(id)?.parity)?.window ?? '1h';
    const groups = new Map<string, string[]>();
    for (const id of ids) groups.set(windowOf(id), [...(groups.get(windowOf(id)) ?? []), id]);
    const out: ReturnType<typeof withGate>[] = [];
    for (const [w, list] of groups) {
      for (const f of await parity.figures(durationMinutes(w)!, w, list)) out.push(withGate(f, byId.get(f.rule)));
    }
    return out.sort((a, b) => a.rule.localeCompare(b.rule));
  };

  r.get('/api/parity', {
    config: { role: 'viewer' },
    schema: {
      tags: ['parity'],
      summary: 'Parity per rule: compared, mismatches, parity (0..1, null when nothing was compared), top differing fields, over a window and in total, and the gate',
      querystring: Type.Object({ window: Window }),
    },
    handler: async (req) => {
      const v = await cp.current();
      const rules = allRules(v.ruleSet);
      // every rule of interest, and any other that has figures (a rule since flipped to new)
      const known = await parity.figures(1, '1m');
      const ids = [...new Set([...rules.filter(interesting).map((x) => x.id), ...known.map((k) => k.rule).filter((id) => rules.some((x) => x.id === id))])];
      return { version: v.version, rules: await figuresFor(rules, ids, req.query.window) };
    },
  });

  r.get('/api/parity/:rule', {
    config: { role: 'viewer' },
    schema: {
      tags: ['parity'],
      summary: 'Parity of one rule, with its most differing fields in total and recent mismatch samples (values redacted unless the rule keeps them)',
      params: Type.Object({ rule: Type.String() }),
      querystring: Type.Object({ window: Window, samples: Type.Integer({ minimum: 0, maximum: 200, default: 20 }) }),
    },
    handler: async (req, reply) => {
      const v = await cp.current();
      const rules = allRules(v.ruleSet);
      const known = (await parity.figures(1, '1m', [req.params.rule]))[0];
      if (!rules.some((x) => x.id === req.params.rule) && (!known || known.total.compared + known.total.skipped === 0)) throw new UnknownRuleError(req.params.rule);
      const [f] = await figuresFor(rules, [req.params.rule], req.query.window);
      if (!f) return sendProblem(reply, 404, 'unknown-rule', 'No such rule', `no rule "${req.params.rule}"`);
      const samples = (await parity.samples(req.params.rule, req.query.samples)).map((x) => ({ ...x, text: formatDiff(x.diff) }));
      return { ...f, totalTopFields: await parity.totalFields(req.params.rule), samples };
    },
  });

  r.get('/api/traffic', {
    config: { role: 'viewer' },
    schema: {
      tags: ['parity'],
      summary: 'Requests per rule and upstream over a window, from every gateway instance: the live traffic split and error rates',
      querystring: Type.Object({ window: Type.String({ pattern: '^[1-9][0-9]{0,5}[mhd]$', default: '5m' }) }),
    },
    handler: async (req) => ({ window: req.query.window, rules: await parity.traffic(durationMinutes(req.query.window)!) }),
  });

  r.get('/api/whoami', {
    config: { role: 'viewer' },
    schema: { tags: ['access'], summary: 'Who the caller is and their role (viewer, operator, admin)' },
    handler: async (req) => ({ actor: req.principal!.actor, role: req.principal!.role, auth: req.principal!.auth }),
  });
}
