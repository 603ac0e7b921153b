/**
 * What every admin route shares: request decorations (who is calling), route config (the role
 * it needs, the audit action it records), problem answers and their mapping from errors.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Principal, problem, PROBLEM_CONTENT_TYPE, type Role, StaleVersionError } from '@ficus/contracts';
import { BadTargetError } from '../routing/request-target.js';
import { InvalidRuleSetError, UnknownVersionError, type Origin } from './control-plane.js';
import { UnknownRuleError } from './rule-changes.js';

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
    /** the audit action of a write route */
    audit?: string;
  }
}

export function originOf(request: FastifyRequest): Origin {
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

/** Maps what the control plane throws to the answer a client gets. */
export function answerError(reply: FastifyReply, err: Error & { validation?: unknown; statusCode?: number }): FastifyReply {
  if (err instanceof InvalidRuleSetError) {
    const errors = err.issues.map((i) => ({ ruleId: i.ruleId, field: i.field, reason: i.reason, pointer: i.pointer }));
    const first = errors[0];
    const detail = first ? `${first.ruleId ? `rule "${first.ruleId}"` : 'rule set'}${first.field ? `, field "${first.field}"` : ''}: ${first.reason}` : 'invalid';
    return sendProblem(reply, 422, 'invalid-rule-set', 'The rule set is invalid; nothing was changed', detail, { errors });
  }
  if (err instanceof StaleVersionError) {
    const winner = err.winner ? { current: { version: err.winner.version, author: err.winner.author, createdAt: err.winner.createdAt, reason: err.winner.reason, summary: err.winner.change.summary } } : {};
    return sendProblem(reply, 409, 'stale-version', 'Someone changed the rules first', err.message, { baseVersion: err.base, currentVersion: err.current, ...winner });
  }
  if (err instanceof UnknownRuleError) return sendProblem(reply, 404, 'unknown-rule', 'No such rule', err.message);
  if (err instanceof UnknownVersionError) return sendProblem(reply, 404, 'unknown-version', 'No such version', err.message);
  if (err instanceof BadTargetError) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', err.message);
  if (err.validation) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendProblem(reply, err.statusCode, 'invalid-request', 'Invalid request', err.message);
  reply.log.error({ err: err.message }, 'admin request failed');
  return sendProblem(reply, 500, 'internal-error', 'Internal error', 'the request failed; see the gateway log');
}

/** The audit outcome of a finished write, from its status. */
export function outcomeOf(status: number): 'ok' | 'refused' | 'denied' | 'conflict' | 'error' {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403) return 'denied';
  if (status === 409) return 'conflict';
  if (status < 500) return 'refused';
  return 'error';
}
