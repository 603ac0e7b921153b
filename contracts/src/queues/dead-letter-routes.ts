/**
 * The admin API routes over a DeadLetterDesk, the same in each component that feeds queues
 * (`/api/hl7/queues/…` in the HL7 adapter, `/api/cdc/queues/…` in the CDC deployable; the
 * gateway's admin API forwards both). Listing needs the viewer role; replay (one, or a whole
 * family's in failure order) and discard the operator role and a reason, and are on the audit
 * record with the letter's summary or the counts.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { auditEntry, originOf, sendProblem } from '../control-plane/admin-auth.js';
import type { AuditLog } from '../control-plane/audit-log.js';
import type { QueueDeadLetter, QueueDeadLettersReplayed } from '../api/ops-answers.js';
import { DeadLetterNotFoundError, ReplayUnsafeError, UnknownQueueError, type DeadLetterDesk } from './dead-letters.js';

const ListQuery = Type.Object(
  {
    prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'one family of queues (`hl7.results-service`, `cdc.lab-results`)' })),
    limit: Type.Integer({ minimum: 1, maximum: 1_000, default: 100 }),
  },
  { additionalProperties: false },
);

const Act = Type.Object(
  {
    queue: Type.String({ minLength: 1, maxLength: 200, description: 'the partition queue the job came from (`cdc.patients.p3`)' }),
    id: Type.String({ minLength: 1, maxLength: 300, description: "the dead letter's id, as listed" }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    force: Type.Optional(Type.Boolean({ description: 'replay: also after the letter is safe to replay (see replaySafeUntil)' })),
  },
  { additionalProperties: false },
);

const ActOnAll = Type.Object(
  {
    prefix: Type.String({ minLength: 1, maxLength: 200, description: 'the family of queues (`hl7.results-service`)' }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    force: Type.Optional(Type.Boolean({ description: 'also letters past their safe replay time' })),
    max: Type.Integer({ minimum: 1, maximum: 100_000, default: 1_000 }),
  },
  { additionalProperties: false },
);

export interface DeadLetterRoutesOptions {
  /** the component's API prefix (`/api/hl7`) */
  base: string;
  /** the audit actions' prefix (`hl7`, `cdc`) */
  channel: string;
  desk: DeadLetterDesk;
  audit: AuditLog;
  /** told after a replay (the metrics gauge, a log line) */
  replayed?: (queue: string) => void;
}

/** The desk talks to Redis alone: any failure of its other than the ones above is the queues' Redis not answering. */
function queuesUnavailable(reply: FastifyReply, e: unknown): FastifyReply {
  return sendProblem(reply, 503, 'queues-unavailable', "The queues' Redis did not answer", `${(e as Error).message}; try again once it answers (a dead letter replayed twice is applied once)`);
}

export function deadLetterRoutes(app: FastifyInstance, o: DeadLetterRoutesOptions): void {
  app.get<{ Querystring: Static<typeof ListQuery> }>(`${o.base}/queues/dead-letters`, {
    config: { role: 'viewer' },
    schema: { querystring: ListQuery },
    handler: async (req, reply) => {
      try {
        return await o.desk.list({ prefix: req.query.prefix, limit: req.query.limit });
      } catch (e) {
        return queuesUnavailable(reply, e);
      }
    },
  });

  const act = (what: 'replay' | 'discard') =>
    app.post<{ Body: Static<typeof Act> }>(`${o.base}/queues/dead-letters/${what}`, {
      config: { role: 'operator', audit: `${o.channel}.dead-letter.${what}` },
      schema: { body: Act },
      handler: async (req, reply) => {
        const b = req.body;
        req.auditTarget = `${b.queue} ${b.id}`;
        let result: { letter: QueueDeadLetter; replayedAs?: string };
        try {
          result = what === 'replay' ? await o.desk.replay(b.queue, b.id, { force: b.force }) : { letter: await o.desk.discard(b.queue, b.id) };
        } catch (e) {
          if (e instanceof UnknownQueueError) return sendProblem(reply, 404, 'unknown-queue', 'No such queue', e.message);
          if (e instanceof DeadLetterNotFoundError) return sendProblem(reply, 404, 'dead-letter-not-found', 'No such dead letter', e.message);
          if (e instanceof ReplayUnsafeError) return sendProblem(reply, 409, 'replay-unsafe', 'Replay could bring deleted rows back', e.message);
          return queuesUnavailable(reply, e);
        }
        await o.audit.append(
          auditEntry(req.principal, originOf(req), {
            action: `${o.channel}.dead-letter.${what}`,
            target: req.auditTarget,
            reason: b.reason,
            outcome: 'ok',
            status: 200,
            detail: { ...result.letter.summary, error: result.letter.error.slice(0, 300), failedAt: result.letter.failedAt, ...(b.force ? { force: true } : {}) },
          }),
        );
        req.audited = true;
        if (what === 'replay') o.replayed?.(b.queue);
        return result;
      },
    });
  act('replay');
  act('discard');

  app.post<{ Body: Static<typeof ActOnAll> }>(`${o.base}/queues/dead-letters/replay-all`, {
    config: { role: 'operator', audit: `${o.channel}.dead-letter.replay-all` },
    schema: { body: ActOnAll },
    handler: async (req, reply) => {
      const b = req.body;
      req.auditTarget = b.prefix;
      let result: QueueDeadLettersReplayed;
      try {
        result = await o.desk.replayAll(b.prefix, { max: b.max, force: b.force });
      } catch (e) {
        if (e instanceof UnknownQueueError) return sendProblem(reply, 404, 'unknown-queue', 'No such queue family', e.message);
        return queuesUnavailable(reply, e);
      }
      await o.audit.append(
        auditEntry(req.principal, originOf(req), {
          action: `${o.channel}.dead-letter.replay-all`,
          target: b.prefix,
          reason: b.reason,
          outcome: 'ok',
          status: 200,
          detail: { ...result, ...(b.force ? { force: true } : {}) },
        }),
      );
      req.audited = true;
      if (result.replayed > 0) o.replayed?.(b.prefix);
      return result;
    },
  });
}
