/**
 * The frames the adapter refused at intake (answered AR/CR: a bad MSH, a processing id it does
 * not serve, a batch whose count disagrees …), kept in hl7_rejects: which one, from whom and
 * why, for the sending system's analyst. The listing carries header fields only; the frame
 * itself (patient data) is shown one at a time to operators, on the record, as a message is.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { auditEntry, originOf } from '@ficus/contracts';
import { problemBody, record, Since, type Hl7ApiDeps } from './route-support.js';

/**
 * SQL: field `n` (3: sending application, 4: sending facility; its first component) of the
 * frame's header segment (MSH, or FHS/BHS for a batch, whose fields 3 and 4 are the same), read
 * with the separators the frame declares. NULL for a frame that does not begin with one: the
 * table keeps no header fields of its own, and a refused frame may not have parsed at all.
 */
function headerField(n: 3 | 4): string {
  // the header is in the first kilobyte, before any NUL: latin1 reads any other byte, but text
  // holds no NUL, and one (NUL padding, UTF-16) made convert_from fail the whole listing
  // a UTF-8 byte order mark before the header is skipped (it is kept with the frame: it names the charset)
  const head = `substring(r.raw from (CASE WHEN substring(r.raw from 1 for 3) = '\\xefbbbf'::bytea THEN 4 ELSE 1 END) for 1024)`;
  const t = `convert_from(substring(${head} from 1 for coalesce(nullif(position('\\x00'::bytea in ${head}), 0) - 1, 1024)), 'LATIN1')`;
  const segment = `split_part(replace(${t}, E'\\n', E'\\r'), E'\\r', 1)`;
  return `CASE WHEN left(${t}, 3) IN ('MSH', 'FHS', 'BHS') AND length(${t}) >= 5
            THEN nullif(split_part(split_part(${segment}, substr(${t}, 4, 1), ${n}), substr(${t}, 5, 1), 1), '') END`;
}

const SELECT_REJECTS = `
  SELECT r.id, r.received_at, r.peer, r.error_code, r.error_text, r.control_id, octet_length(r.raw) AS size,
         ${headerField(3)} AS sending_application, ${headerField(4)} AS sending_facility
    FROM hl7_rejects r`;

interface RejectRow {
  id: string;
  received_at: Date;
  peer: string | null;
  error_code: number;
  error_text: string;
  control_id: string | null;
  size: number;
  sending_application: string | null;
  sending_facility: string | null;
}

const toReject = (r: RejectRow) => ({
  id: Number(r.id),
  receivedAt: r.received_at.toISOString(),
  peer: r.peer,
  sendingApplication: r.sending_application,
  sendingFacility: r.sending_facility,
  controlId: r.control_id,
  errorCode: r.error_code,
  error: r.error_text,
  bytes: r.size,
});

export type Hl7Reject = ReturnType<typeof toReject>;

export function rejectRoutes(app: FastifyInstance, d: Pick<Hl7ApiDeps, 'pool' | 'audit'>): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/hl7/rejects', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'Frames refused at intake (AR/CR), newest first, with the reason (header fields only); the next page: beforeId = the answer\'s nextBeforeId',
      querystring: Type.Object({
        since: Since,
        until: Since,
        application: Type.Optional(Type.String({ description: 'sending application, MSH-3.1 (BHS-3/FHS-3 for a batch)' })),
        facility: Type.Optional(Type.String({ description: 'sending facility, MSH-4.1 (BHS-4/FHS-4 for a batch)' })),
        peer: Type.Optional(Type.String({ description: 'the connection it came on (address:port)' })),
        controlId: Type.Optional(Type.String({ description: 'MSH-10 as sent' })),
        beforeId: Type.Optional(Type.Integer({ minimum: 1, description: 'only frames refused before this one (the previous page\'s nextBeforeId)' })),
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      }),
    },
    handler: async (req) => {
      const q = req.query;
      const { rows } = await d.pool.query<RejectRow>(
        `SELECT * FROM (${SELECT_REJECTS}
           WHERE ($1::timestamptz IS NULL OR r.received_at >= $1) AND ($2::timestamptz IS NULL OR r.received_at < $2)
             AND ($3::text IS NULL OR r.peer = $3) AND ($4::text IS NULL OR r.control_id = $4)
             AND ($5::bigint IS NULL OR r.id < $5)) x
          WHERE ($6::text IS NULL OR x.sending_application = $6) AND ($7::text IS NULL OR x.sending_facility = $7)
          ORDER BY x.id DESC LIMIT $8`,
        [q.since ?? null, q.until ?? null, q.peer ?? null, q.controlId ?? null, q.beforeId ?? null, q.application ?? null, q.facility ?? null, q.limit],
      );
      const rejects = rows.map(toReject);
      return { rejects, nextBeforeId: rejects.length === q.limit ? rejects[rejects.length - 1]!.id : null };
    },
  });

  r.get('/api/hl7/rejects/:id', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: 'One refused frame; with ?raw=true (operators) the frame itself, which is on the record',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      querystring: Type.Object({ raw: Type.Boolean({ default: false }) }),
    },
    handler: async (req, reply) => {
      const { rows } = await d.pool.query<RejectRow & { raw: Buffer }>(`${SELECT_REJECTS.replace('octet_length(r.raw) AS size,', 'octet_length(r.raw) AS size, r.raw,')} WHERE r.id = $1`, [req.params.id]);
      const row = rows[0];
      if (!row) return reply.code(404).header('content-type', 'application/problem+json').send(problemBody(404, 'unknown-reject', 'No such refused frame', `no refused frame ${req.params.id}`));
      if (!req.query.raw) return toReject(row);
      if (req.principal?.role === 'viewer') {
        // as for a message: every look at the content is on the record, a refused one too
        await d.audit.append(auditEntry(req.principal, originOf(req), { action: 'hl7.view', target: `reject ${row.id}`, outcome: 'denied', status: 403, detail: { need: 'operator', controlId: row.control_id } }));
        return reply.code(403).header('content-type', 'application/problem+json').send(problemBody(403, 'forbidden', 'Not allowed', 'the refused frame itself holds patient data: this needs the role "operator"'));
      }
      await record(d, req.principal, req, 'hl7.view', `reject ${row.id}`, undefined, { controlId: row.control_id });
      // a refused frame may not say its charset (or say it wrongly): one latin1 character per byte, as received
      return { ...toReject(row), raw: row.raw.toString('latin1') };
    },
  });
}
