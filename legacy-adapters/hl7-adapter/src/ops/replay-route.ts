/**
 * Replay: deliver stored messages again, one (by id) or those received in a time range, to the
 * targets each went to or to one named target. Every replay is on the record with what it
 * chose and where it went.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { problemBody, record, Since, type Hl7ApiDeps } from './route-support.js';

export function replayRoute(app: FastifyInstance, d: Pick<Hl7ApiDeps, 'pool' | 'audit' | 'replayed' | 'knownTargets'>): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post('/api/hl7/replay', {
    config: { role: 'operator', audit: 'hl7.replay' },
    schema: {
      tags: ['hl7'],
      summary: 'Deliver stored messages again: one message, or those received in a time range; an unknown messageId is a 404, a filter that matches nothing a 200 with 0 messages',
      body: Type.Object(
        {
          messageId: Type.Optional(Type.Integer({ minimum: 1 })),
          from: Since,
          to: Since,
          type: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
          trigger: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
          target: Type.Optional(
            Type.String({
              pattern: '^(legacy|queue):[a-z0-9][a-z0-9-]{0,62}$',
              description: 'legacy:<upstream> or queue:<service>, one the current rules know; default: the targets each message went to. A target a message never went to gets it too (a new service catching up)',
            }),
          ),
          reason: Type.String({ minLength: 1, maxLength: 500 }),
          max: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
        },
        { additionalProperties: false },
      ),
    },
    handler: async (req, reply) => {
      const b = req.body;
      if ((b.messageId === undefined) === (b.from === undefined || b.to === undefined)) {
        return reply.code(400).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/invalid-request', title: 'Invalid request', status: 400, detail: 'give either messageId, or both from and to' });
      }
      req.auditTarget = b.messageId !== undefined ? `message ${b.messageId}` : `messages ${b.from} to ${b.to}`;
      if (b.target !== undefined && !d.knownTargets().includes(b.target)) {
        return reply.code(422).header('content-type', 'application/problem+json').send({ ...problemBody(422, 'unknown-target', 'No such target', `the current rules have no target "${b.target}"`), targets: d.knownTargets() });
      }
      const { rows } = await d.pool.query<{ known: boolean; messages: string; deliveries: string }>(
        `WITH chosen AS (
           SELECT m.id FROM hl7_messages m
            WHERE ($1::bigint IS NULL OR m.id = $1)
              AND ($2::timestamptz IS NULL OR m.received_at >= $2) AND ($3::timestamptz IS NULL OR m.received_at < $3)
              AND ($4::text IS NULL OR m.message_type = $4) AND ($5::text IS NULL OR m.trigger_event = $5)
            ORDER BY m.id LIMIT $7
         ), targets AS (
           -- the message's own targets, or the one asked for (in the partition its patient has)
           SELECT DISTINCT ON (c.id, coalesce($6::text, t.target)) c.id AS message_id, coalesce($6::text, t.target) AS target, t.partition,
                  t.after_partition, t.after_partitions
             FROM chosen c JOIN hl7_deliveries t ON t.message_id = c.id
            ORDER BY c.id, coalesce($6::text, t.target), t.id
         ), ins AS (
           -- a replayed merge waits, as the merge did, for what is older in the other patients' lanes
           INSERT INTO hl7_deliveries (message_id, target, partition, replay_reason, after_partition, after_partitions)
           SELECT message_id, target, partition, $8, after_partition, after_partitions FROM targets ORDER BY message_id, target
           RETURNING message_id
         )
         -- in the same statement: a message named by id is found (or not) in the snapshot the replay used
         SELECT ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM hl7_messages WHERE id = $1)) AS known,
                (SELECT count(*) FROM chosen) AS messages, (SELECT count(*) FROM ins) AS deliveries`,
        [b.messageId ?? null, b.from ?? null, b.to ?? null, b.type ?? null, b.trigger ?? null, b.target ?? null, b.max, b.reason],
      );
      // what was chosen, not only how much: the audit must say what a replay sent where
      const chosen = { messageId: b.messageId, from: b.from, to: b.to, type: b.type, trigger: b.trigger, max: b.max };
      const asked = { target: b.target ?? 'their own targets', ...Object.fromEntries(Object.entries(chosen).filter(([, v]) => v !== undefined)) };
      // an id that names no stored message is a mistake (a typo, a message retention removed), not an empty answer;
      // a filter that matches nothing (a quiet time range, a type the message is not) is an answer: 200 and 0
      if (!rows[0]!.known) {
        await record(d, req.principal, req, 'hl7.replay', req.auditTarget, b.reason, { ...asked, why: 'no stored message' }, { outcome: 'refused', status: 404 });
        req.audited = true;
        return reply.code(404).header('content-type', 'application/problem+json').send(problemBody(404, 'unknown-message', 'No such message', `no stored message ${b.messageId}: nothing replayed`));
      }
      const result = { messages: Number(rows[0]!.messages), deliveries: Number(rows[0]!.deliveries) };
      await record(d, req.principal, req, 'hl7.replay', req.auditTarget, b.reason, { ...asked, ...result });
      req.audited = true;
      d.replayed();
      return result;
    },
  });
}
