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
import type { Hl7DeadLettersAnswer, Hl7Stats } from '@ficus/contracts/api';
import { detectByteOrderMark, lookupCharset } from '@ficus/hl7-protocol';
import { DELIVERY_COUNTS, RESOLVED_BY } from '../delivery/delivery-store.js';
import { controlIdCondition, controlIdMatch } from './logged-control-ids.js';

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
  deliveries: { id: number; target: string; status: string; attempts: number; answer: string | null; lastError: string | null; deliveredAt: string | null; replay: boolean }[];
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
         m.rule_id, m.mode,
         -- stored before 2026-12-06 as CA when MSH-15 (NE, ER) asked for no commit ACK and none was sent
         CASE WHEN m.ack_code = 'CA' AND m.accept_ack_type IN ('NE', 'ER') THEN 'none' ELSE m.ack_code END AS ack_code,
         coalesce((SELECT json_agg(json_build_object('id', d.id, 'target', d.target, 'status', d.status, 'attempts', d.attempts,
                         'answer', d.answer, 'lastError', d.last_error, 'deliveredAt', d.delivered_at, 'replay', d.replay_reason IS NOT NULL) ORDER BY d.id)
                     FROM hl7_deliveries d WHERE d.message_id = m.id), '[]') AS deliveries
    FROM hl7_messages m`;

export interface Hl7ApiDeps {
  pool: pg.Pool;
  audit: AuditLog;
  /** wakes the dispatcher after a replay */
  replayed: () => void;
  /** the delivery targets the current rules know (`legacy:<upstream>`, `queue:<service>`) */
  knownTargets: () => string[];
  /** writes the intake counts still in memory (before /stats reads them) */
  flushStats: () => Promise<void>;
  /** FICUS_LOG_ID_KEY: a control id the logs show as hmac: is found by it */
  logIdKey?: string;
}

const problemBody = (status: number, slug: string, title: string, detail: string) => ({ type: `https://ficus.dev/problems/${slug}`, title, status, detail });

async function record(d: Hl7ApiDeps, who: Principal | undefined, req: Parameters<typeof originOf>[0], action: string, target: string, reason: string | undefined, detail: Record<string, unknown>) {
  await d.audit.append(auditEntry(who, originOf(req), { action, target, reason, outcome: 'ok', status: 200, detail }));
}

export function hl7Routes(app: FastifyInstance, d: Hl7ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/hl7/messages', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'Messages received, newest first (header fields only); the next page: beforeId = the answer\'s nextBeforeId',
      querystring: Type.Object({
        type: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
        trigger: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{3}$' })),
        controlId: Type.Optional(Type.String({ description: 'MSH-10, or as the logs show it: sha256:… or hmac:… (12 hex digits)' })),
        facility: Type.Optional(Type.String()),
        delivery: Type.Optional(Type.Unsafe<'pending' | 'delivered' | 'dead'>({ type: 'string', enum: ['pending', 'delivered', 'dead'] })),
        since: Since,
        until: Since,
        // a cursor: pages by time would skip the messages that share the last one's instant
        beforeId: Type.Optional(Type.Integer({ minimum: 1, description: 'only messages stored before this one (the previous page\'s nextBeforeId)' })),
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      }),
    },
    handler: async (req, reply) => {
      const q = req.query;
      const controlId = controlIdMatch(q.controlId, d.logIdKey);
      if (!controlId.ok) return reply.code(400).header('content-type', 'application/problem+json').send(problemBody(400, 'invalid-request', 'Invalid request', controlId.detail));
      const { rows } = await d.pool.query<MessageRow>(
        `${SELECT_MESSAGES}
          WHERE ($1::text IS NULL OR m.message_type = $1) AND ($2::text IS NULL OR m.trigger_event = $2)
            AND ($3::text IS NULL OR m.sending_facility = $3)
            AND ($4::timestamptz IS NULL OR m.received_at >= $4) AND ($5::timestamptz IS NULL OR m.received_at < $5)
            AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM hl7_deliveries x WHERE x.message_id = m.id AND x.status = $6))
            AND ($8::bigint IS NULL OR m.id < $8)
            AND ${controlIdCondition('m.control_id', 9)}
          ORDER BY m.id DESC LIMIT $7`,
        [q.type ?? null, q.trigger ?? null, q.facility ?? null, q.since ?? null, q.until ?? null, q.delivery ?? null, q.limit, q.beforeId ?? null, ...controlId.params],
      );
      const messages = rows.map(toMessage);
      return { messages, nextBeforeId: messages.length === q.limit ? messages[messages.length - 1]!.id : null };
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
      const { rows } = await d.pool.query<MessageRow & { raw: Buffer; charset: string }>(`${SELECT_MESSAGES.replace('m.rule_id, m.mode,', 'm.rule_id, m.mode, m.raw, m.charset,')} WHERE m.id = $1`, [req.params.id]);
      const row = rows[0];
      if (!row) return reply.code(404).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/unknown-message', title: 'No such message', status: 404, detail: `no message ${req.params.id}` });
      if (!req.query.raw) return toMessage(row);
      if (req.principal?.role === 'viewer') {
        // every look at a message's content is on the record, a refused one too (as the admin API audits a denied call)
        await d.audit.append(auditEntry(req.principal, originOf(req), { action: 'hl7.view', target: `message ${row.id}`, outcome: 'denied', status: 403, detail: { need: 'operator', controlId: row.control_id } }));
        return reply.code(403).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/forbidden', title: 'Not allowed', status: 403, detail: 'the message itself holds patient data: this needs the role "operator"' });
      }
      await record(d, req.principal, req, 'hl7.view', `message ${row.id}`, undefined, { controlId: row.control_id });
      return { ...toMessage(row), charset: row.charset, raw: row.raw.toString('latin1'), text: storedText(row.raw, row.charset) };
    },
  });

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
      summary: 'Counts since a time (default: an hour ago): messages stored by type and event, ACKs sent by code, messages refused, and per target the deliveries pending, dead (not yet resolved by a replay) and delivered',
      querystring: Type.Object({ since: Since }),
    },
    handler: async (req) => {
      const since = req.query.since ? new Date(req.query.since) : new Date(Date.now() - 3_600_000);
      await d.flushStats().catch(() => undefined);
      const [messages, acks, rejected, open, delivered] = await Promise.all([
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
      ]);
      const targets = new Map<string, { target: string; pending: number; dead: number; delivered: number }>();
      const at = (target: string) => {
        let t = targets.get(target);
        if (!t) targets.set(target, (t = { target, pending: 0, dead: 0, delivered: 0 }));
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
      const { rows } = await d.pool.query<{ messages: string; deliveries: string }>(
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
         SELECT (SELECT count(*) FROM chosen) AS messages, (SELECT count(*) FROM ins) AS deliveries`,
        [b.messageId ?? null, b.from ?? null, b.to ?? null, b.type ?? null, b.trigger ?? null, b.target ?? null, b.max, b.reason],
      );
      const result = { messages: Number(rows[0]!.messages), deliveries: Number(rows[0]!.deliveries) };
      // what was chosen, not only how much: the audit must say what a replay sent where
      const chosen = { messageId: b.messageId, from: b.from, to: b.to, type: b.type, trigger: b.trigger, max: b.max };
      const asked = { target: b.target ?? 'their own targets', ...Object.fromEntries(Object.entries(chosen).filter(([, v]) => v !== undefined)) };
      await record(d, req.principal, req, 'hl7.replay', req.auditTarget, b.reason, { ...asked, ...result });
      req.audited = true;
      d.replayed();
      return result;
    },
  });
}

/**
 * A stored message as text, decoded by the charset it was read in (a byte order mark dropped):
 * what an API client shows. `raw` keeps the bytes (one latin1 character per byte) for tools.
 */
export function storedText(raw: Buffer, charset: string): string {
  const bytes = detectByteOrderMark(raw) === 'utf-8' ? raw.subarray(3) : raw;
  const found = lookupCharset(charset);
  if (!found.ok) return bytes.toString('latin1');
  try {
    return found.charset.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}
