/**
 * The conflicts of a service for review, under /api/services/<service>/conflicts: the admin
 * API's tokens, roles and audit log (as the HL7 adapter and the CDC reader serve theirs; the
 * admin API passes /api/services/<service>/* through), problem bodies, and the
 * x-ficus-admin-api header, all in a scope of their own: the service's legacy-contract routes
 * keep their error bodies and never say they are an admin API.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditEntry, installAdminAuth, originOf, sendProblem, type Authenticator, type AuditLog, type Logger } from '@ficus/contracts';
import type { ServiceConflicts } from '@ficus/contracts/api';
import type { ConflictReview } from '../cdc/conflict-review.js';

export interface ConflictRouteDeps {
  service: string;
  review: ConflictReview;
  auth: Authenticator;
  audit: AuditLog;
  log: Logger;
}

export const conflictsBase = (service: string) => `/api/services/${service}`;

const Id = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,18}$', description: "the conflict's id in this service" }) });

export async function conflictRoutes(app: FastifyInstance, d: ConflictRouteDeps): Promise<void> {
  const base = conflictsBase(d.service);
  await app.register(async (scope) => {
    installAdminAuth(scope, d.auth, d.audit, d.log);
    scope.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
      if (err.validation || (err.statusCode && err.statusCode < 500)) return sendProblem(reply, err.statusCode ?? 400, 'invalid-request', 'Invalid request', err.message);
      d.log.error({ err: err.message }, 'conflict review request failed');
      return sendProblem(reply, 500, 'internal-error', 'Internal error', `the request failed; see the ${d.service} log`);
    });
    // the audit names the service's conflict, not a bare number (also for a denied call, which never reaches the handler)
    scope.addHook('onRequest', async (request: FastifyRequest) => {
      const id = (request.params as { id?: string } | undefined)?.id;
      if (id) request.auditTarget = `${d.service} conflict ${id}`;
    });

    scope.get(
      `${base}/conflicts`,
      {
        config: { role: 'viewer' },
        schema: {
          querystring: Type.Object(
            {
              topic: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              key: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'a value of any field of the key (an MRN), or the key as JSON ({"mrn":"1234567"})' })),
              since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'recorded at or after (ISO 8601)' })),
              // strings: the service's validator (the legacy contract's) coerces no query value
              all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'resolved ones too (default false)' })),
              limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: '1-1000 (default 100)' })),
              cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,18}$', description: "the last page's nextCursor" })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => {
        const raw = request.query as { topic?: string; key?: string; since?: string; all?: 'true' | 'false'; limit?: string; cursor?: string };
        const q = { ...raw, all: raw.all === 'true', limit: raw.limit === undefined ? 100 : Number(raw.limit) };
        if (q.since !== undefined && Number.isNaN(Date.parse(q.since))) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', `since is not a time: "${q.since}" (ISO 8601, 2026-12-07T21:00:00Z)`);
        const [page, unresolved] = await Promise.all([d.review.list(q), d.review.unresolved()]);
        const answer: ServiceConflicts = { service: d.service, unresolved, ...page };
        return answer;
      },
    );

    // the change itself is patient data: operators only, and every look on the record before it
    // is shown, a viewer's refused try too (as the HL7 adapter's hl7.view of a message's content)
    scope.get(`${base}/conflicts/:id`, { config: { role: 'operator', audit: 'conflicts.view' }, schema: { params: Id } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const found = await d.review.show(id);
      if (!found) return sendProblem(reply, 404, 'not-found', 'No such conflict', `${d.service} has no conflict ${id}`);
      await d.audit.append(auditEntry(request.principal, originOf(request), { action: 'conflicts.view', target: `${d.service} conflict ${id}`, outcome: 'ok', status: 200 }));
      request.audited = true;
      return found;
    });

    scope.post(
      `${base}/conflicts/:id/resolve`,
      {
        config: { role: 'operator', audit: 'conflicts.resolve' },
        schema: { params: Id, body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500, description: 'what was done about it (kept with the conflict and in the audit log)' }) }, { additionalProperties: false }) },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { reason } = request.body as { reason: string };
        const r = await d.review.resolve(id, request.principal!.actor, reason);
        if (r.ok) return { conflict: r.conflict };
        if (r.why === 'not-found') return sendProblem(reply, 404, 'not-found', 'No such conflict', `${d.service} has no conflict ${id}`);
        return sendProblem(reply, 409, 'already-resolved', 'Already resolved', `${d.service} conflict ${id} was resolved at ${r.conflict.resolvedAt} by ${r.conflict.resolvedBy}`, { conflict: r.conflict });
      },
    );
  });
}
