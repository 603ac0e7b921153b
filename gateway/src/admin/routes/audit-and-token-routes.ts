/**
 * /api/audit (who did what, when, why, from where) and /api/tokens (admin bearer tokens).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type AuditLog, LastAdminTokenError, ROLES, TokenNameTakenError, type TokenStore } from '@ficus/contracts';
import { originOf, sendProblem } from '../admin-http.js';
import type { ControlPlane } from '../control-plane.js';

export function auditRoutes(app: FastifyInstance, audit: AuditLog): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get('/api/audit', {
    config: { role: 'viewer' },
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first, filtered',
      querystring: Type.Object({
        actor: Type.Optional(Type.String()),
        tokenId: Type.Optional(Type.Integer({ minimum: 1, description: 'only what this token did (a name may have been another token\'s before)' })),
        action: Type.Optional(Type.String()),
        outcome: Type.Optional(Type.Unsafe<'ok' | 'refused' | 'denied' | 'conflict' | 'error'>({ type: 'string', enum: ['ok', 'refused', 'denied', 'conflict', 'error'] })),
        target: Type.Optional(Type.String()),
        since: Type.Optional(Type.String({ format: 'date-time' })),
        until: Type.Optional(Type.String({ format: 'date-time' })),
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      }),
    },
    handler: async (req) => ({ entries: await audit.query(req.query) }),
  });
}

export function tokenRoutes(app: FastifyInstance, tokens: TokenStore, cp: ControlPlane): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const RoleSchema = Type.Unsafe<(typeof ROLES)[number]>({ type: 'string', enum: [...ROLES] });

  r.post('/api/tokens', {
    config: { role: 'admin', audit: 'tokens.create' },
    schema: {
      tags: ['tokens'],
      summary: 'Make a bearer token (its secret is shown in this answer only)',
      body: Type.Object(
        {
          name: Type.String({ pattern: '^[A-Za-z0-9._@-]{1,64}$' }),
          role: RoleSchema,
          reason: Type.Optional(Type.String({ maxLength: 500 })),
          expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the token stops working by itself (absent: only a revocation ends it)' })),
        },
        { additionalProperties: false },
      ),
    },
    handler: async (req, reply) => {
      req.auditTarget = `token ${req.body.name}`;
      const expiresAt = req.body.expiresAt === undefined ? undefined : new Date(req.body.expiresAt);
      if (expiresAt !== undefined && expiresAt.getTime() <= Date.now()) {
        await cp.record(req.principal, originOf(req), { action: 'tokens.create', target: req.auditTarget, reason: req.body.reason, outcome: 'refused', status: 400, detail: { why: 'expiresAt in the past' } });
        req.audited = true;
        return sendProblem(reply, 400, 'invalid-request', 'Invalid request', `expiresAt ${req.body.expiresAt} is not in the future: the token would never work`);
      }
      let made;
      try {
        made = await tokens.createUnique(req.body.name, req.body.role, req.principal!.actor, expiresAt);
      } catch (e) {
        if (!(e instanceof TokenNameTakenError)) throw e;
        await cp.record(req.principal, originOf(req), { action: 'tokens.create', target: req.auditTarget, reason: req.body.reason, outcome: 'conflict', status: 409, detail: { why: 'name taken', holder: e.holder } });
        req.audited = true;
        return sendProblem(reply, 409, 'token-name-taken', 'Token name taken', e.message, { holder: e.holder });
      }
      const { info, token } = made;
      await cp.record(req.principal, originOf(req), {
        action: 'tokens.create',
        target: `token ${info.name}`,
        reason: req.body.reason,
        outcome: 'ok',
        status: 201,
        detail: { id: info.id, role: info.role, ...(info.expiresAt ? { expiresAt: info.expiresAt } : {}) },
      });
      req.audited = true;
      return reply.code(201).send({ ...info, token });
    },
  });

  r.get('/api/tokens', {
    config: { role: 'admin' },
    schema: { tags: ['tokens'], summary: 'The tokens (never their secrets)' },
    handler: async () => ({ tokens: await tokens.list() }),
  });

  r.delete('/api/tokens/:id', {
    config: { role: 'admin', audit: 'tokens.revoke' },
    schema: {
      tags: ['tokens'],
      summary: 'Revoke a token (it stops working at once)',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      querystring: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }),
    },
    handler: async (req, reply) => {
      req.auditTarget = `token ${req.params.id}`;
      let info;
      try {
        info = await tokens.revoke(req.params.id, req.principal!.actor);
      } catch (e) {
        if (!(e instanceof LastAdminTokenError)) throw e;
        await cp.record(req.principal, originOf(req), { action: 'tokens.revoke', target: req.auditTarget, reason: req.query.reason, outcome: 'conflict', status: 409, detail: { why: 'last admin token' } });
        req.audited = true;
        return sendProblem(reply, 409, 'last-admin-token', 'Last admin token', e.message);
      }
      if (!info) return sendProblem(reply, 404, 'unknown-token', 'No such active token', `no active token ${req.params.id}`);
      await cp.record(req.principal, originOf(req), { action: 'tokens.revoke', target: `token ${info.id}`, reason: req.query.reason, outcome: 'ok', status: 200, detail: { name: info.name } });
      req.audited = true;
      return info;
    },
  });
}
