/**
 * The messages the adapter holds: a listing (header fields and deliveries only) and one message,
 * whose content (patient data) an operator may see on request, on the record.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { auditEntry, originOf } from '@ficus/contracts';
import { detectByteOrderMark, lookupCharset } from '@ficus/hl7-protocol';
import { controlIdCondition, controlIdMatch } from './logged-control-ids.js';
import { problemBody, record, Since, type Hl7ApiDeps } from './route-support.js';
import { HELD_BEHIND, heldReason, type HeldBehind } from './held-deliveries.js';
import { gaveUpCondition, gaveUpJobs, gaveUpOf, gaveUpParams, type GaveUp, type GaveUpJobs } from './service-gave-up.js';

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
  emergency: boolean;
  ack_code: string;
  deliveries: { id: number; target: string; status: string; attempts: number; answer: string | null; lastError: string | null; deliveredAt: string | null; replay: boolean; heldBehind: HeldBehind | null }[];
}

const toMessage = (r: MessageRow, gaveUp: Map<number, GaveUp> = new Map(), held: Map<number, string> = new Map()) => ({
  id: Number(r.id),
  receivedAt: r.received_at.toISOString(),
  sendingApplication: r.sending_application,
  sendingFacility: r.sending_facility,
  controlId: r.control_id,
  type: r.message_type,
  trigger: r.trigger_event,
  ruleId: r.rule_id,
  mode: r.mode,
  // routed by the emergency override file: mode legacy whatever the rule store said
  emergency: r.emergency,
  ackCode: r.ack_code,
  // gaveUp: a queue delivery whose job the service then dead-lettered (its status stays the adapter's: delivered)
  // held: why a pending delivery waits (held-deliveries.ts)
  deliveries: r.deliveries.map(({ heldBehind: _, ...d }) => ({ ...d, held: held.get(d.id) ?? null, gaveUp: gaveUp.get(d.id) ?? null })),
});

/** The page's messages with the service dead letters marked; `serviceDeadLetters` says when those could not be read. */
async function marked(d: Pick<Hl7ApiDeps, 'serviceDeadLetters' | 'serviceUnfinished'>, g: GaveUpJobs, rows: MessageRow[]) {
  const waiting = rows.flatMap((r) => r.deliveries.filter((x) => x.heldBehind !== null));
  const [gaveUp, reasons] = await Promise.all([
    gaveUpOf(d.serviceDeadLetters, g, rows.map((r) => toMessage(r))),
    Promise.all(waiting.map(async (x) => [x.id, await heldReason(x, d.serviceUnfinished)] as const)),
  ]);
  const held = new Map(reasons.filter((x): x is readonly [number, string] => x[1] !== null));
  return { messages: rows.map((r) => toMessage(r, gaveUp, held)), unread: g.ok ? undefined : g.why };
}

const SELECT_MESSAGES = `
  SELECT m.id, m.received_at, m.sending_application, m.sending_facility, m.control_id, m.message_type, m.trigger_event,
         m.rule_id, m.mode, m.emergency,
         -- stored before 2026-12-06 as CA when MSH-15 (NE, ER) asked for no commit ACK and none was sent
         CASE WHEN m.ack_code = 'CA' AND m.accept_ack_type IN ('NE', 'ER') THEN 'none' ELSE m.ack_code END AS ack_code,
         coalesce((SELECT json_agg(json_build_object('id', d.id, 'target', d.target, 'status', d.status, 'attempts', d.attempts,
                         'answer', d.answer, 'lastError', d.last_error, 'deliveredAt', d.delivered_at, 'replay', d.replay_reason IS NOT NULL,
                         'heldBehind', ${HELD_BEHIND}) ORDER BY d.id)
                     FROM hl7_deliveries d WHERE d.message_id = m.id), '[]') AS deliveries
    FROM hl7_messages m`;

/**
 * SQL: a delivery `x` in the state asked for ($p: pending, delivered, dead). A queue delivery the
 * service gave up on (its job among $p+1, $p+2) counts as dead, not delivered.
 */
const deliveryState = (p: number) => `($${p}::text IS NULL OR EXISTS (SELECT 1 FROM hl7_deliveries x WHERE x.message_id = m.id AND CASE $${p}::text
    WHEN 'dead' THEN x.status = 'dead' OR (x.status = 'delivered' AND ${gaveUpCondition('x', p + 1)})
    WHEN 'delivered' THEN x.status = 'delivered' AND NOT ${gaveUpCondition('x', p + 1)}
    ELSE x.status = $${p}::text END))`;

export function messageRoutes(app: FastifyInstance, d: Pick<Hl7ApiDeps, 'pool' | 'audit' | 'logIdKey' | 'serviceDeadLetters' | 'serviceUnfinished'>): void {
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
      // the services' dead letters, read once for the page (a filter by state needs them too)
      const g = await gaveUpJobs(d.serviceDeadLetters);
      const { rows } = await d.pool.query<MessageRow>(
        `${SELECT_MESSAGES}
          WHERE ($1::text IS NULL OR m.message_type = $1) AND ($2::text IS NULL OR m.trigger_event = $2)
            AND ($3::text IS NULL OR m.sending_facility = $3)
            AND ($4::timestamptz IS NULL OR m.received_at >= $4) AND ($5::timestamptz IS NULL OR m.received_at < $5)
            AND ${deliveryState(6)}
            AND ($10::bigint IS NULL OR m.id < $10)
            AND ${controlIdCondition('m.control_id', 11)}
          ORDER BY m.id DESC LIMIT $9`,
        [q.type ?? null, q.trigger ?? null, q.facility ?? null, q.since ?? null, q.until ?? null, q.delivery ?? null, ...gaveUpParams(g), q.limit, q.beforeId ?? null, ...controlId.params],
      );
      const { messages, unread } = await marked(d, g, rows);
      return { messages, nextBeforeId: messages.length === q.limit ? messages[messages.length - 1]!.id : null, ...(unread ? { serviceDeadLetters: unread } : {}) };
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
      const { messages: [message], unread } = await marked(d, await gaveUpJobs(d.serviceDeadLetters), [row]);
      const shown = { ...message!, ...(unread ? { serviceDeadLetters: unread } : {}) };
      if (!req.query.raw) return shown;
      if (req.principal?.role === 'viewer') {
        // every look at a message's content is on the record, a refused one too (as the admin API audits a denied call)
        await d.audit.append(auditEntry(req.principal, originOf(req), { action: 'hl7.view', target: `message ${row.id}`, outcome: 'denied', status: 403, detail: { need: 'operator', controlId: row.control_id } }));
        return reply.code(403).header('content-type', 'application/problem+json').send({ type: 'https://ficus.dev/problems/forbidden', title: 'Not allowed', status: 403, detail: 'the message itself holds patient data: this needs the role "operator"' });
      }
      await record(d, req.principal, req, 'hl7.view', `message ${row.id}`, undefined, { controlId: row.control_id });
      return { ...shown, charset: row.charset, raw: row.raw.toString('latin1'), text: storedText(row.raw, row.charset) };
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
