/**
 * The HL7 part of the admin API: the messages the adapter holds, dead letters, and replay of
 * one message or a time range. Same tokens, roles and audit log as the gateway's admin API
 * (which forwards /api/hl7/* here). Listings carry header fields only; the message itself
 * (patient data) is shown to operators on request, and that viewing is on the record.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { auditEntry, originOf, type AuditLog, type Principal } from '@ficus/contracts';

const Since = Type.Optional(Type.String({ format: 'date-time' }));

interface MessageRow {
  id: string;
  received_at: Date;
  sending_application: string;
  sending_facility: string;
  control_id: string;
  message_type: string;
  trigger_event: string;
  rule_id: string;
  mode: string;
  ack_code: string;
  deliveries: { target: string; status: string; attempts: number; lastError: string | null; deliveredAt: string | null; replay: boolean }[];
}

const toMessage = (r: MessageRow) => ({
  id: Number(r.id),
  receivedAt: r.received_at.toISOString(),
  sendingApplication: r.sending_application,
  sendingFacility: r.sending_facility,
  controlId: r.control_id,
  type: r.message_type,
  trigger: r.trigger_event,
  ruleId: r.rule_id,
  mode: r.mode,
  ackCode: r.ack_code,
  deliveries: r.deliveries,
});

const SELECT_MESSAGES = `
  SELECT m.id, m.received_at, m.sending_application, m.sending_facility, m.control_id, m.message_type, m.trigger_event,
         m.rule_id, m.mode, m.ack_code,
         coalesce((SELECT json_agg(json_build_object('target', d.target, 'status', d.status, 'attempts', d.attempts,
                         'lastError', d.last_error, 'deliveredAt', d.delivered_at, 'replay', d.replay_reason IS NOT NULL) ORDER BY d.id)
                     FROM hl7_deliveries d WHERE d.message_id = m.id), '[]') AS deliveries
    FROM hl7_messages m`;

export interface Hl7ApiDeps {
  pool: pg.Pool;
  audit: AuditLog;
  /** wakes the dispatcher after a replay */
  replayed: () => void;
}

async function record(d: Hl7ApiDeps, who: Principal | undefined, req: Parameters<typeof originOf>[0], action: string, target: string, reason: string | undefined, detail: Record<string, unknown>) {
  await d.audit.append(auditEntry(who, originOf(req), { action, target, reason, outcome: 'ok', status: 200, detail }));
}

export function hl7Routes(app: FastifyInstance, d: Hl7ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/hl7/messages', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'Messages received, newest first (header fields only)',
      querystring: Type.Object({
        type: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
        trigger: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
        controlId: Type.Optional(Type.String()),
        facility: Type.Optional(Type.String()),
        delivery: Type.Optional(Type.Unsafe<'pending' | 'delivered' | 'dead'>({ type: 'string', enum: ['pending', 'delivered', 'dead'] })),
        since: Since,
        until: Since,
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      }),
    },
    handler: async (req) => {
      const q = req.query;
      const { rows } = await d.pool.query<MessageRow>(
        `${SELECT_MESSAGES}
          WHERE ($1::text IS NULL OR m.message_type = $1) AND ($2::text IS NULL OR m.trigger_event = $2)
            AND ($3::text IS NULL OR m.control_id = $3) AND ($4::text IS NULL OR m.sending_facility = $4)
            AND ($5::timestamptz IS NULL OR m.received_at >= $5) AND ($6::timestamptz IS NULL OR m.received_at < $6)
            AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM hl7_deliveries x WHERE x.message_id = m.id AND x.status = $7))
          ORDER BY m.id DESC LIMIT $8`,
        [q.type ?? null, q.trigger ?? null, q.controlId ?? null, q.facility ?? null, q.since ?? null, q.until ?? null, q.delivery ?? null, q.limit],
      );
      return { messages: rows.map(toMessage) };
    },
  });

  r.get('/api/hl7/messages/:id', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'One message; with ?raw=true (operators) the message itself, which is on the record',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      querystring: Type.Object({ raw: Type.Boolean({ default: false }) }),
    },
    handler: async (req, reply) => {
      const { rows } = await d.pool.query<MessageRow & { raw: Buffer; charset: string }>(`${SELECT_MESSAGES.replace('m.ack_code,', 'm.ack_code, m.raw, m.charset,')} WHERE m.id = $1`, [req.params.id]);
      const row = rows[0];
      if (!row) return reply.code(404).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/unknown-message', title: 'No such message', status: 404, detail: `no message ${req.params.id}` });
      if (!req.query.raw) return toMessage(row);
      if (req.principal?.role === 'viewer') return reply.code(403).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/forbidden', title: 'Not allowed', status: 403, detail: 'the message itself holds patient data: this needs the role "operator"' });
      await record(d, req.principal, req, 'hl7.view', `message ${row.id}`, undefined, { controlId: row.control_id });
      return { ...toMessage(row), charset: row.charset, raw: row.raw.toString('latin1') };
    },
  });

  r.get('/api/hl7/dead-letters', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'Deliveries the target refused (AE/AR from legacy), newest first',
      querystring: Type.Object({ target: Type.Optional(Type.String()), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
    },
    handler: async (req) => {
      const { rows } = await d.pool.query<{ id: string; message_id: string; target: string; answer: string | null; attempts: number; created_at: Date; control_id: string; message_type: string; trigger_event: string; sending_facility: string }>(
        `SELECT d.id, d.message_id, d.target, d.answer, d.attempts, d.created_at, m.control_id, m.message_type, m.trigger_event, m.sending_facility
           FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id
          WHERE d.status = 'dead' AND ($1::text IS NULL OR d.target = $1) ORDER BY d.id DESC LIMIT $2`,
        [req.query.target ?? null, req.query.limit],
      );
      return {
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
        })),
      };
    },
  });

  r.post('/api/hl7/replay', {
    config: { role: 'operator', audit: 'hl7.replay' },
    schema: {
      tags: ['hl7'],
      summary: 'Deliver stored messages again: one message, or those received in a time range',
      body: Type.Object(
        {
          messageId: Type.Optional(Type.Integer({ minimum: 1 })),
          from: Since,
          to: Since,
          type: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
          trigger: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
          target: Type.Optional(Type.String({ description: 'legacy:<upstream> or queue:<service>; default: the targets the message went to' })),
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
      const { rows } = await d.pool.query<{ messages: string; deliveries: string }>(
        `WITH chosen AS (
           SELECT m.id FROM hl7_messages m
            WHERE ($1::bigint IS NULL OR m.id = $1)
              AND ($2::timestamptz IS NULL OR m.received_at >= $2) AND ($3::timestamptz IS NULL OR m.received_at < $3)
              AND ($4::text IS NULL OR m.message_type = $4) AND ($5::text IS NULL OR m.trigger_event = $5)
            ORDER BY m.id LIMIT $7
         ), targets AS (
           SELECT DISTINCT ON (c.id, t.target) c.id AS message_id, t.target, t.partition
             FROM chosen c JOIN hl7_deliveries t ON t.message_id = c.id
            WHERE $6::text IS NULL OR t.target = $6
         ), ins AS (
           INSERT INTO hl7_deliveries (message_id, target, partition, replay_reason)
           SELECT message_id, target, partition, $8 FROM targets ORDER BY message_id, target
           RETURNING message_id
         )
         SELECT (SELECT count(*) FROM chosen) AS messages, (SELECT count(*) FROM ins) AS deliveries`,
        [b.messageId ?? null, b.from ?? null, b.to ?? null, b.type ?? null, b.trigger ?? null, b.target ?? null, b.max, b.reason],
      );
      const result = { messages: Number(rows[0]!.messages), deliveries: Number(rows[0]!.deliveries) };
      await record(d, req.principal, req, 'hl7.replay', req.auditTarget, b.reason, result);
      req.audited = true;
      d.replayed();
      return result;
    },
  });
}
