/**
 * The authentication, roles and audit trail every admin HTTP API of Ficus shares (the
 * gateway's, the HL7 adapter's): a route names the least role it needs and, for a write, the
 * audit action it records; callers without a valid token get 401, with too small a role 403
 * (RFC 9457 problem bodies), and every write, refused and denied ones included, is audited
 * with who, when, what, why and from where.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';
import { problem, PROBLEM_CONTENT_TYPE } from '../problem.js';
import type { AuditEntry, AuditLog, AuditOutcome } from './audit-log.js';
import type { Authenticator, Principal } from './auth.js';
import { roleAtLeast, type Role } from './token-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** set once the request's audit entry is written */
    audited?: boolean;
    auditTarget?: string;
  }
  interface FastifyContextConfig {
    /** the least role that may call the route; none: public */
    role?: Role;
    /** the audit action of a write route; given the request when the body says which operation it is */
    audit?: string | ((request: FastifyRequest) => string);
    /** the audit target when neither the handler nor the path names one (a denied call never reaches the handler) */
    auditTarget?: string;
  }
}

/** One action name per operation, whatever the outcome: a denied import is `rules.import` as a successful one is. */
export function auditActionOf(request: FastifyRequest): string | undefined {
  const action = request.routeOptions.config?.audit;
  return typeof action === 'function' ? action(request) : action;
}

function auditTargetOf(request: FastifyRequest): string | undefined {
  return request.auditTarget ?? request.routeOptions.config?.auditTarget ?? (request.params as { id?: string } | undefined)?.id;
}

/**
 * On every answer of a Ficus admin API, so a client can tell it from what else answers at a
 * URL given by mistake (the gateway's data plane passes the request on to legacy, whose 404 says
 * nothing of the mistake).
 */
export const ADMIN_API_HEADER = 'x-ficus-admin-api';

/** Where a request came from, for the audit log. */
export interface Origin {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
}

export function originOf(request: Pick<FastifyRequest, 'ip' | 'headers'>): Origin {
  const ua = request.headers['user-agent'];
  return { sourceIp: request.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 200) : undefined };
}

export function reasonOf(request: FastifyRequest): string | undefined {
  const body = request.body as { reason?: unknown } | undefined;
  const query = request.query as { reason?: unknown } | undefined;
  const reason = body?.reason ?? query?.reason;
  return typeof reason === 'string' ? reason.slice(0, 500) : undefined;
}

export function sendProblem(reply: FastifyReply, status: number, slug: string, title: string, detail: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply
    .code(status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(problem(status, slug, title, detail, { instance: `urn:ficus:request:${reply.request.id}`, ...extra }));
}

/** The audit outcome of a finished write, from its status. */
export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403) return 'denied';
  if (status === 409) return 'conflict';
  if (status < 500) return 'refused';
  return 'error';
}

/** Writes one audit entry for a caller (or for an anonymous one). */
export function auditEntry(who: Principal | undefined, origin: Origin, e: Omit<AuditEntry, 'actor' | 'tokenId' | 'role' | 'auth' | 'sourceIp' | 'userAgent'>): AuditEntry {
  return { ...e, actor: who?.actor ?? 'anonymous', tokenId: who?.tokenId, role: who?.role, auth: who?.auth ?? 'none', sourceIp: origin.sourceIp, userAgent: origin.userAgent };
}

export function installAdminAuth(app: FastifyInstance, auth: Authenticator, audit: AuditLog, log: Logger): void {
  app.addHook('onSend', async (_request, reply) => {
    void reply.header(ADMIN_API_HEADER, '1');
  });

  const record = (who: Principal | undefined, request: FastifyRequest, e: Omit<AuditEntry, 'actor' | 'tokenId' | 'role' | 'auth' | 'sourceIp' | 'userAgent'>) =>
    audit.append(auditEntry(who, originOf(request), e));

  // who is calling, and may they? (after the body is parsed, so a denied write's reason is kept)
  app.addHook('preValidation', async (request, reply) => {
    const need = request.routeOptions.config.role;
    if (!need) return;
    const result = await auth.authenticate(request.headers.authorization);
    const action = auditActionOf(request);
    const target = auditTargetOf(request);
    if (!result.ok) {
      if (action) {
        request.audited = true;
        await record(undefined, request, { action, target, reason: reasonOf(request), outcome: 'denied', status: 401, detail: { why: result.reason } }).catch(() => undefined);
      }
      void reply.header('www-authenticate', 'Bearer realm="ficus-admin"');
      return sendProblem(reply, 401, 'unauthorized', 'Authentication required', result.reason);
    }
    request.principal = result.principal;
    if (!roleAtLeast(result.principal.role, need)) {
      if (action) {
        request.audited = true;
        await record(result.principal, request, { action, target, reason: reasonOf(request), outcome: 'denied', status: 403, detail: { need } }).catch(() => undefined);
      }
      return sendProblem(reply, 403, 'forbidden', 'Not allowed', `this needs the role "${need}"; the caller has "${result.principal.role}"`);
    }
  });

  // writes that ended without their own audit entry (refused, conflicting, failed) are on the record too
  app.addHook('onResponse', async (request, reply) => {
    const action = auditActionOf(request);
    if (!action || request.audited) return;
    // a body refused before the caller was checked (malformed JSON, a wrong content type): still name who sent it
    const who = request.principal ?? (await auth.authenticate(request.headers.authorization).then((r) => (r.ok ? r.principal : undefined), () => undefined));
    await record(who, request, {
      action,
      target: auditTargetOf(request),
      reason: reasonOf(request),
      outcome: outcomeOf(reply.statusCode),
      status: reply.statusCode,
    }).catch((e: Error) => log.error({ err: e.message, action }, 'cannot write the audit entry of a refused change'));
  });
}
