/**
 * /api/versions and /api/rollback: the history of the rule set, differences, and going back
 * (through the parity gate, as a flip: see ControlPlane.rollback).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { RuleStore } from '@ficus/contracts';
import { AllowRemoval, forceRefused, originOf, refusedOnRecord, removalRefused } from '../admin-http.js';
import type { ControlPlane } from '../control-plane.js';
import { diffRuleSets } from '../rule-diff.js';

export function versionRoutes(app: FastifyInstance, cp: ControlPlane, store: RuleStore): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/versions', {
    config: { role: 'viewer' },
    schema: {
      tags: ['versions'],
      summary: 'The versions of the rule set, newest first',
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }), before: Type.Optional(Type.Integer({ minimum: 1 })) }),
    },
    handler: async (req) => ({ current: await store.currentVersion(), versions: await store.list(req.query.limit, req.query.before) }),
  });

  r.get('/api/versions/:version', {
    config: { role: 'viewer' },
    schema: { tags: ['versions'], summary: 'One version, with its rule set', params: Type.Object({ version: Type.Integer({ minimum: 1 }) }) },
    handler: async (req) => cp.version(req.params.version),
  });

  r.get('/api/versions/:a/diff/:b', {
    config: { role: 'viewer' },
    schema: { tags: ['versions'], summary: 'What changed from version a to version b', params: Type.Object({ a: Type.Integer({ minimum: 1 }), b: Type.Integer({ minimum: 1 }) }) },
    handler: async (req) => {
      const [a, b] = await Promise.all([cp.version(req.params.a), cp.version(req.params.b)]);
      return { from: a.version, to: b.version, diff: diffRuleSets(a.ruleSet, b.ruleSet) };
    },
  });

  r.post('/api/rollback', {
    config: { role: 'operator', audit: 'rules.rollback' },
    schema: {
      tags: ['versions'],
      summary: 'Make a new version whose rules are those of an earlier one (a rule it moves toward the new service needs its parity gate, as a flip does)',
      body: Type.Object(
        {
          version: Type.Integer({ minimum: 1 }),
          reason: Type.String({ minLength: 1, maxLength: 500 }),
          baseVersion: Type.Integer({ minimum: 0 }),
          force: Type.Optional(Type.Boolean({ description: 'go past a closed parity gate (role admin; audited as forced)' })),
          allowRemoval: AllowRemoval,
        },
        { additionalProperties: false },
      ),
    },
    handler: async (req, reply) => {
      req.auditTarget = `version ${req.body.version}`;
      const { force, allowRemoval } = req.body;
      const denied = forceRefused(req, reply, force, 'rollback') ?? removalRefused(req, reply, allowRemoval);
      if (denied) return denied;
      const { version, changed } = await refusedOnRecord(cp, req, () =>
        cp.rollback(req.principal!, originOf(req), req.body.version, req.body.reason, req.body.baseVersion, force === true, allowRemoval === true),
      );
      req.audited = true;
      return changed ? { version: version.version, changed, change: version.change } : { version: version.version, changed };
    },
  });
}
