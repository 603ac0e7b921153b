/**
 * How deliveries are going: the dead letters (deliveries a target refused) and the counts a
 * dashboard shows (messages by type, ACKs by code, refusals, deliveries per target).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { hl7QueuePrefix } from '@ficus/contracts';
import type { Hl7DeadLettersAnswer, Hl7Stats } from '@ficus/contracts/api';
import { DELIVERY_COUNTS, RESOLVED_BY } from '../delivery/delivery-store.js';
import { Since, type Hl7ApiDeps } from './route-support.js';

export function deliveryRoutes(app: FastifyInstance, d: Pick<Hl7ApiDeps, 'pool' | 'knownTargets' | 'flushStats' | 'serviceDeadLetters'>): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/hl7/dead-letters', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'Deliveries the target refused (AE/AR from legacy), newest first; those a replay has since delivered only with all=true',
      querystring: Type.Object({
        target: Type.Optional(Type.String()),
        all: Type.Boolean({ default: false, description: 'include dead letters a later replay delivered (resolved)' }),
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      }),
    },
    handler: async (req) => {
      const { rows } = await d.pool.query<{ id: string; message_id: string; target: string; answer: string | null; attempts: number; created_at: Date; control_id: string; message_type: string; trigger_event: string; sending_facility: string; resolved_by: string | null }>(
        `SELECT d.id, d.message_id, d.target, d.answer, d.attempts, d.created_at, m.control_id, m.message_type, m.trigger_event, m.sending_facility, r.id AS resolved_by
           FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id
           LEFT JOIN LATERAL (${RESOLVED_BY}) r ON true
          WHERE d.status = 'dead' AND ($1::text IS NULL OR d.target = $1) AND ($2 OR r.id IS NULL)
          ORDER BY d.id DESC LIMIT $3`,
        [req.query.target ?? null, req.query.all, req.query.limit],
      );
      const answer: Hl7DeadLettersAnswer = {
        deadLetters: rows.map((x) => ({
          deliveryId: Number(x.id),
          messageId: Number(x.message_id),
          target: x.target,
          answer: x.answer,
          attempts: x.attempts,
          at: x.created_at.toISOString(),
          controlId: x.control_id,
          sendingFacility: x.sending_facility,
          type: x.message_type,
          trigger: x.trigger_event,
          resolvedBy: x.resolved_by === null ? null : Number(x.resolved_by),
        })),
      };
      return answer;
    },
  });

  r.get('/api/hl7/stats', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary:
        'Counts since a time (default: an hour ago): messages stored by type and event, ACKs sent by code, messages refused, and per target the deliveries pending, dead (not yet resolved by a replay) and delivered; ' +
        "for a service's queue also gaveUp: the jobs its service dead-lettered and still holds (null: not a queue, or the dead letters could not be read)",
      querystring: Type.Object({ since: Since }),
    },
    handler: async (req) => {
      const since = req.query.since ? new Date(req.query.since) : new Date(Date.now() - 3_600_000);
      await d.flushStats().catch(() => undefined);
      const [messages, acks, rejected, open, delivered, gaveUp] = await Promise.all([
        d.pool.query<{ type: string; trigger: string; count: string }>(
          `SELECT message_type AS type, trigger_event AS trigger, count(*) AS count FROM hl7_messages
            WHERE received_at >= $1 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`,
          [since],
        ),
        d.pool.query<{ code: string; count: string }>(
          `SELECT ack_code AS code, sum(count) AS count FROM hl7_intake_stats
            WHERE minute >= date_trunc('minute', $1::timestamptz) AND ack_code <> '' GROUP BY 1 ORDER BY 1`,
          [since],
        ),
        d.pool.query<{ count: string }>(
          `SELECT coalesce(sum(count), 0) AS count FROM hl7_intake_stats WHERE minute >= date_trunc('minute', $1::timestamptz) AND outcome = 'rejected'`,
          [since],
        ),
        d.pool.query<{ target: string; pending: string; dead: string }>(DELIVERY_COUNTS),
        d.pool.query<{ target: string; count: string }>(
          `SELECT target, count(*) AS count FROM hl7_deliveries WHERE status = 'delivered' AND delivered_at >= $1 GROUP BY target`,
          [since],
        ),
        // the adapter's 'delivered' is the queue's taking the job: what the service then gave up on is in its dead letters
        d.serviceDeadLetters.counts().then(
          (counts) => new Map(counts.map((c) => [c.prefix, c.count])),
          () => undefined,
        ),
      ]);
      const targets = new Map<string, { target: string; pending: number; dead: number; delivered: number; gaveUp: number | null }>();
      const at = (target: string) => {
        let t = targets.get(target);
        const service = target.startsWith('queue:') ? target.slice('queue:'.length) : undefined;
        if (!t) targets.set(target, (t = { target, pending: 0, dead: 0, delivered: 0, gaveUp: service && gaveUp ? (gaveUp.get(hl7QueuePrefix(service)) ?? 0) : null }));
        return t;
      };
      for (const t of d.knownTargets()) at(t);
      for (const r of open.rows) Object.assign(at(r.target), { pending: Number(r.pending), dead: Number(r.dead) });
      for (const r of delivered.rows) at(r.target).delivered = Number(r.count);
      const stats: Hl7Stats = {
        since: since.toISOString(),
        messages: messages.rows.map((r) => ({ type: r.type, trigger: r.trigger, count: Number(r.count) })),
        acks: acks.rows.map((r) => ({ code: r.code, count: Number(r.count) })),
        rejected: Number(rejected.rows[0]!.count),
        deliveries: [...targets.values()].sort((a, b) => a.target.localeCompare(b.target)),
      };
      return stats;
    },
  });
}
