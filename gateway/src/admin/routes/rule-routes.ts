/**
 * /api/rules: read the rules, explain a request, flip one rule, apply or validate a whole set.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { HL7_MODES, HTTP_MODES, type RuleIssue } from '@ficus/contracts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ControlPlane } from '../control-plane.js';
import { explain } from '../explain.js';
import { AllowRemoval, forceRefused, originOf, refusedOnRecord } from '../admin-http.js';
import { UnknownRuleError } from '../rule-changes.js';
import type { RouterOptions } from '../../routing/router.js';
import type { EmergencyFile } from '../../ops/emergency-file.js';

const RuleSetDoc = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  description: 'a rule set: { upstreams: { <name>: Upstream }, http: [HttpRule] } (see routing-rules/ and the README)',
  additionalProperties: true,
});
const Reason = Type.String({ minLength: 1, maxLength: 500, description: 'why: kept in the version history and the audit log' });
const BaseVersion = Type.Integer({ minimum: 0, description: 'the version this change starts from; a stale one gets 409' });
const Loose = { additionalProperties: true };


export function ruleRoutes(
  app: FastifyInstance,
  cp: ControlPlane,
  circuitOf: (upstream: string) => string | undefined,
  routing: RouterOptions = {},
  emergency?: Pick<EmergencyFile, 'status' | 'pins'>,
): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // this instance's override, beside the stored rules (never inside them: an export of the rules must not carry it)
  const emergencyNow = () => {
    const o = emergency?.status().override;
    return o ? { emergency: { ...o, file: emergency!.status().file, scope: 'instance' } } : {};
  };

  r.get('/api/rules', {
    config: { role: 'viewer' },
    schema: { tags: ['rules'], summary: 'The current rule set', response: { 200: Type.Object({ version: Type.Integer(), rules: Type.Array(Type.Object({}, Loose)), upstreams: Type.Object({}, Loose) }, Loose) } },
    handler: async () => {
      const v = await cp.current();
      return { version: v.version, createdAt: v.createdAt, author: v.author, reason: v.reason, rules: v.ruleSet.http, hl7: v.ruleSet.hl7 ?? [], upstreams: v.ruleSet.upstreams, ...emergencyNow() };
    },
  });

  r.get('/api/rules/:id', {
    config: { role: 'viewer' },
    schema: { tags: ['rules'], summary: 'One rule', params: Type.Object({ id: Type.String() }) },
    handler: async (req) => {
      const v = await cp.current();
      const index = v.ruleSet.http.findIndex((x) => x.id === req.params.id);
      // the override beside the rule while it holds it: its stored mode is not where its requests go
      if (index >= 0) return { version: v.version, kind: 'http', index, rule: v.ruleSet.http[index], ...(emergency?.pins(v.ruleSet, req.params.id) ? emergencyNow() : {}) };
      const hl7Index = v.ruleSet.hl7?.findIndex((x) => x.id === req.params.id) ?? -1;
      if (hl7Index < 0) throw new UnknownRuleError(req.params.id);
      return { version: v.version, kind: 'hl7', index: hl7Index, rule: v.ruleSet.hl7![hl7Index] };
    },
  });

  r.get('/api/explain', {
    config: { role: 'viewer' },
    schema: {
      tags: ['rules'],
      summary: 'Which rule takes a request, where it goes, and why',
      querystring: Type.Object({
        method: Type.String({ default: 'GET', pattern: '^[A-Za-z-]+$', description: 'as the client sends it: methods are case-sensitive, and the gateway refuses `get` as the proxy does' }),
        path: Type.String({ pattern: '^/', description: 'path and query, as the client sends it' }),
        header: Type.Optional(Type.Array(Type.String(), { description: 'repeat: header=name:value' })),
      }),
      response: {
        200: Type.Object({
          version: Type.Integer(),
          rule: Type.Union([Type.String(), Type.Null()]),
          mode: Type.Union([Type.String(), Type.Null()]),
          target: Type.Union([Type.String(), Type.Null()]),
          reason: Type.String(),
          emergency: Type.Optional(Type.Literal(true, { description: "held in legacy by this instance's emergency override file: target is legacy whatever the mode" })),
        }),
      },
    },
    handler: async (req) => {
      const v = await cp.current();
      const heldBy = (id: string) => (emergency?.pins(v.ruleSet, id) ? emergency.status().file : undefined);
      return { version: v.version, ...explain(v.ruleSet, req.query.method, req.query.path, req.query.header ?? [], circuitOf, routing, heldBy) };
    },
  });

  r.post('/api/rules/:id/flip', {
    config: { role: 'operator', audit: 'rules.flip' },
    schema: {
      tags: ['rules'],
      summary: 'Change the mode (and percent, target) of one rule',
      params: Type.Object({ id: Type.String() }),
      body: Type.Object(
        {
          mode: Type.Unsafe<(typeof HTTP_MODES)[number] | (typeof HL7_MODES)[number]>({ type: 'string', enum: [...new Set([...HTTP_MODES, ...HL7_MODES])] }),
          percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
          target: Type.Optional(Type.String({ minLength: 1 })),
          reason: Reason,
          baseVersion: BaseVersion,
          force: Type.Optional(Type.Boolean({ description: 'go past a closed parity gate (role admin; audited as forced)' })),
        },
        { additionalProperties: false },
      ),
    },
    handler: async (req, reply) => {
      req.auditTarget = req.params.id;
      const { mode, percent, target, reason, baseVersion, force } = req.body;
      const denied = forceRefused(req, reply, force, 'flip');
      if (denied) return denied;
      const flip = { mode, ...(percent !== undefined ? { percent } : {}), ...(target !== undefined ? { target } : {}) };
      const { version, changed, warnings } = await refusedOnRecord(cp, req, () => cp.flip(req.principal!, originOf(req), req.params.id, flip, reason, baseVersion, force === true));
      req.audited = true;
      const rule = version.ruleSet.http.find((x) => x.id === req.params.id) ?? version.ruleSet.hl7?.find((x) => x.id === req.params.id);
      // no change: no `change`, as PUT /api/rules and rollback answer
      const pinned = emergency?.pins(version.ruleSet, req.params.id) === true;
      const all = pinned ? [...(warnings ?? []), pinnedWarning(req.params.id, emergency!.status().file)] : warnings;
      return changed ? { version: version.version, changed, change: version.change, rule, ...warningsOf(all) } : { version: version.version, changed, rule, ...warningsOf(pinned ? all : undefined) };
    },
  });

  r.put('/api/rules', {
    // an import is audited as one whether it is made, refused or denied (`ficus audit --action rules.import` finds them all)
    config: { role: 'admin', audit: (req) => ((req.body as { kind?: unknown } | undefined)?.kind === 'import' ? 'rules.import' : 'rules.apply'), auditTarget: 'rule-set' },
    schema: {
      tags: ['rules'],
      summary: 'Replace the whole rule set (an import from files does this too)',
      body: Type.Object(
        {
          ruleSet: RuleSetDoc,
          reason: Reason,
          baseVersion: BaseVersion,
          kind: Type.Optional(Type.Unsafe<'apply' | 'import'>({ type: 'string', enum: ['apply', 'import'] })),
          force: Type.Optional(Type.Boolean({ description: 'go past closed parity gates (audited as forced)' })),
          allowRemoval: AllowRemoval,
          exportedFrom: Type.Optional(
            Type.Integer({ minimum: 1, description: 'kind import: the version the files were exported from (`ficus rules export` writes it in their header); recorded when the base is a later version' }),
          ),
        },
        { additionalProperties: false },
      ),
    },
    handler: async (req) => {
      const { ruleSet, reason, baseVersion, kind, force, allowRemoval, exportedFrom } = req.body;
      const { version, changed, warnings } = await refusedOnRecord(cp, req, () =>
        cp.apply(req.principal!, originOf(req), ruleSet, reason, baseVersion, kind ?? 'apply', force === true, allowRemoval === true, exportedFrom),
      );
      req.audited = true;
      return changed ? { version: version.version, changed, change: version.change, ...warningsOf(warnings) } : { version: version.version, changed, ...warningsOf(warnings) };
    },
  });

  r.post('/api/rules/validate', {
    config: { role: 'viewer' },
    schema: {
      tags: ['rules'],
      summary: 'Check a rule set without applying it (422 with every issue when invalid, including routing it would drop from the current rules)',
      body: Type.Object({ ruleSet: RuleSetDoc, allowRemoval: AllowRemoval }, { additionalProperties: false }),
    },
    handler: async (req) => {
      const { warnings } = cp.check(req.body.ruleSet, (await cp.current()).ruleSet, req.body.allowRemoval === true);
      return { valid: true, warnings: warningsOf(warnings).warnings ?? [] };
    },
  });
}

/** The flip is stored, but this instance serves the rule from legacy while its override file says so. */
function pinnedWarning(ruleId: string, file: string): RuleIssue {
  return {
    ruleId,
    field: 'mode',
    pointer: '',
    reason: `an emergency override (${file} on this instance) holds this rule in legacy: the change is stored and serves once the file is removed`,
  };
}

/** Warnings as the API gives them (none: no field) */
function warningsOf(warnings: RuleIssue[] | undefined): { warnings?: Pick<RuleIssue, 'ruleId' | 'field' | 'reason' | 'pointer'>[] } {
  if (!warnings?.length) return {};
  return { warnings: warnings.map((w) => ({ ruleId: w.ruleId, field: w.field, reason: w.reason, pointer: w.pointer })) };
}
