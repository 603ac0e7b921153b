/**
 * How the gateway's admin API answers what its control plane throws (the shared request
 * plumbing, roles and audit hooks are in @ficus/contracts: admin-auth).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditActionOf, originOf, reasonOf, sendProblem, StaleVersionError } from '@ficus/contracts';
import { BadTargetError } from '../routing/request-target.js';
import { InvalidRuleSetError, UnknownVersionError, type ControlPlane } from './control-plane.js';
import { GateWeakeningError } from './gate-weakening.js';
import { describeGate, ParityGateError } from './parity-gate.js';
import { UnknownRuleError } from './rule-changes.js';

/** Maps what the control plane throws to the answer a client gets. */
export function answerError(reply: FastifyReply, err: Error & { validation?: unknown; statusCode?: number }): FastifyReply {
  if (err instanceof InvalidRuleSetError) {
    const errors = err.issues.map((i) => ({ ruleId: i.ruleId, field: i.field, reason: i.reason, pointer: i.pointer }));
    const first = errors[0];
    const detail = first ? `${first.ruleId ? `rule "${first.ruleId}"` : 'rule set'}${first.field ? `, field "${first.field}"` : ''}: ${first.reason}` : 'invalid';
    return sendProblem(reply, 422, 'invalid-rule-set', 'The rule set is invalid; nothing was changed', detail, { errors });
  }
  if (err instanceof StaleVersionError) {
    const shown = (v: NonNullable<typeof err.winner>) => ({ version: v.version, author: v.author, createdAt: v.createdAt, reason: v.reason, summary: v.change.summary });
    const winner = err.winner ? { current: shown(err.winner) } : {};
    const since = err.since ? { changesSince: err.since.map(shown) } : {};
    const rules = err.rulesChanged ? { rulesChanged: err.rulesChanged } : {};
    const detail = err.rulesChanged?.length ? `${err.message}; changed since version ${err.base}: ${err.rulesChanged.map((r) => `rule "${r}"`).join(', ')}` : err.message;
    return sendProblem(reply, 409, 'stale-version', 'Someone changed the rules first', detail, { baseVersion: err.base, currentVersion: err.current, ...winner, ...since, ...rules });
  }
  if (err instanceof ParityGateError) {
    const detail = `${err.refused.map(describeGate).join('; ')}. An admin may force it with "force": true and a reason (audited).`;
    return sendProblem(reply, 422, 'parity-gate', 'Parity gate closed: not enough evidence that the new service answers like legacy', detail, { gates: err.refused });
  }
  if (err instanceof GateWeakeningError) return sendProblem(reply, 403, 'forbidden', 'Not allowed', err.message, { weakenedGates: err.weakened, ...(err.instead.length > 0 ? { instead: err.instead } : {}) });
  if (err instanceof UnknownRuleError) return sendProblem(reply, 404, 'unknown-rule', 'No such rule', err.message);
  if (err instanceof UnknownVersionError) return sendProblem(reply, 404, 'unknown-version', 'No such version', err.message);
  if (err instanceof BadTargetError) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', err.message);
  if (err.validation) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendProblem(reply, err.statusCode, 'invalid-request', 'Invalid request', err.message);
  reply.log.error({ err: err.message }, 'admin request failed');
  return sendProblem(reply, 500, 'internal-error', 'Internal error', 'the request failed; see the gateway log');
}

/** A change the parity gate refused goes on the audit log with the figures it was refused on; one that would loosen a gate, with the gates. */
export async function refusedOnRecord<T>(cp: ControlPlane, req: FastifyRequest, change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (e) {
    if (e instanceof ParityGateError) {
      const action = auditActionOf(req) ?? 'rules.change';
      await cp.record(req.principal, originOf(req), { action, target: req.auditTarget, reason: reasonOf(req), outcome: 'refused', status: 422, detail: { parityGate: e.refused } });
      req.audited = true;
    }
    if (e instanceof GateWeakeningError) {
      const action = auditActionOf(req) ?? 'rules.change';
      await cp.record(req.principal, originOf(req), { action, target: req.auditTarget, reason: reasonOf(req), outcome: 'denied', status: 403, detail: { weakenedGates: e.weakened } });
      req.audited = true;
    }
    throw e;
  }
}

/** Forcing a change past a closed gate is an admin's decision, whichever way the change is made. */
export function forceRefused(req: FastifyRequest, reply: FastifyReply, force: boolean | undefined, what: 'flip' | 'rollback'): FastifyReply | undefined {
  if (!force || req.principal!.role === 'admin') return undefined;
  return sendProblem(reply, 403, 'forbidden', 'Not allowed', `forcing a ${what} past the parity gate needs the role "admin"`);
}

/** The body field by which an admin lets a change drop routing that serves now (routing-guard.ts). */
export const AllowRemoval = Type.Optional(
  Type.Boolean({ description: 'apply even though the change leaves no HTTP rules, no HL7 rules, or no catch-all where the current rules have them (role admin; recorded on the version and in the audit log)' }),
);

/** Dropping routing that serves now (a section emptied, the catch-all) is an admin's decision too. */
export function removalRefused(req: FastifyRequest, reply: FastifyReply, allowRemoval: boolean | undefined): FastifyReply | undefined {
  if (!allowRemoval || req.principal!.role === 'admin') return undefined;
  return sendProblem(reply, 403, 'forbidden', 'Not allowed', 'allowing a change to drop routing that serves now ("allowRemoval") needs the role "admin"');
}

export { originOf, outcomeOf, reasonOf, sendProblem } from '@ficus/contracts';
