/**
 * The message store. Messages are inserted with their deliveries in one statement, so a
 * message is never stored without knowing where it must go. Inserts from all connections are
 * grouped: while commits are under way (a few at a time, which PostgreSQL flushes together) the
 * next messages gather and go in one statement. No caller is answered before the commit that
 * holds its message. The messages of one call (a connection's frames in hand, a batch file)
 * always go in the same statement, in order, and a connection makes its next call only when
 * the last one is answered: so one connection's messages are stored in the order sent.
 */
import type pg from 'pg';
import { sameMessage } from './same-message.js';

export interface Delivery {
  target: string;
  partition: number;
  /** a message of several patients (a merge, a multi-patient ORU): the lanes of the others, whose older deliveries go first and later ones after it */
  afterPartitions?: number[];
}

export interface MessageRecord {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  controlId: string;
  messageType: string;
  triggerEvent: string;
  version: string;
  processingId: string;
  acceptAckType: string;
  applicationAckType: string;
  patientKey: string | null;
  charset: string;
  raw: Buffer;
  peer: string | null;
  ruleId: string;
  mode: string;
  /** routed by the emergency override file (mode legacy whatever the rule store said); default false */
  emergency?: boolean;
  ackCode: string;
  deliveries: Delivery[];
}

/** Where the authoritative delivery of a stored message stands (the first one it was given). */
export interface AuthoritativeDelivery {
  target: string;
  /** its lane: the partition queue of a service's job */
  partition: number;
  status: 'pending' | 'delivered' | 'dead';
  /** the target's answer, for a dead letter `AE: why` or `AR: why` */
  answer: string | null;
}

export type StoreOutcome =
  | { kind: 'stored'; id: number }
  | {
      kind: 'duplicate';
      id: number;
      ackCode: string;
      authoritative: AuthoritativeDelivery | undefined;
      /** not the stored message sent again (same-message.ts): the sender reused a control id (a counter reset?) */
      differs: boolean;
    };

interface Waiting {
  record: MessageRecord;
  /** the call it came with: a call is never split between two statements */
  call: number;
  resolve: (o: StoreOutcome) => void;
  reject: (e: Error) => void;
}

const MAX_BATCH = 500;
const key = (facility: string, controlId: string) => `${facility}\u0000${controlId}`;

const TEXT_FIELDS = [
  'sendingApplication',
  'sendingFacility',
  'receivingApplication',
  'receivingFacility',
  'controlId',
  'messageType',
  'triggerEvent',
  'version',
  'processingId',
  'acceptAckType',
  'applicationAckType',
  'patientKey',
] as const;

/** PostgreSQL text holds no NUL character; a header field with one is kept with U+FFFD in its place */
function storable(r: MessageRecord): MessageRecord {
  if (!TEXT_FIELDS.some((k) => r[k]?.includes('\u0000'))) return r;
  const out = { ...r };
  for (const k of TEXT_FIELDS) out[k] = r[k]?.replaceAll('\u0000', '\uFFFD') ?? null!;
  return out;
}

/** a value PostgreSQL refuses (data exception, integrity, program limit): the message's fault, not the store's */
function refusedValue(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || (code.startsWith('23') && code !== '23505') || code.startsWith('54'));
}

export class MessageStore {
  private waiting: Waiting[] = [];
  private committing = 0;
  private calls = 0;

  constructor(
    private readonly pool: pg.Pool,
    /** called after each commit that stored new messages, with their lanes (wakes the dispatcher) */
    private readonly committed: (lanes: Delivery[]) => void = () => {},
    /** statements in flight at once */
    private readonly parallel = 2,
  ) {}

  /** Stores a message (or recognises a resend); resolves after the commit. */
  async store(record: MessageRecord): Promise<StoreOutcome> {
    const [outcome] = await this.storeAll([record]);
    if (outcome instanceof Error) throw outcome;
    return outcome!;
  }

  /**
   * Stores messages in one statement, in this order; resolves after the commit with each one's
   * outcome, or the error that kept it out (all of them when the store fails; a value the store
   * refuses only that message and those after it).
   */
  async storeAll(records: MessageRecord[]): Promise<(StoreOutcome | Error)[]> {
    const call = ++this.calls;
    const outcomes = records.map(
      (record) =>
        new Promise<StoreOutcome>((resolve, reject) => {
          this.waiting.push({ record: storable(record), call, resolve, reject });
        }),
    );
    this.flush();
    return (await Promise.allSettled(outcomes)).map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error)));
  }

  private flush(): void {
    if (this.committing >= this.parallel || this.waiting.length === 0) return;
    this.committing++;
    // up to MAX_BATCH messages, and never half a call
    let cut = Math.min(MAX_BATCH, this.waiting.length);
    while (cut < this.waiting.length && this.waiting[cut]!.call === this.waiting[cut - 1]!.call) cut++;
    const batch = this.waiting.splice(0, cut);
    this.insertIsolating(batch)
      .catch((e: Error) => {
        for (const w of batch) w.reject(e);
      })
      .finally(() => {
        this.committing--;
        this.flush();
      });
  }

  /**
   * A batch with a value PostgreSQL refuses is tried again call by call, message by message,
   * so that the message at fault fails alone: every other connection's messages are stored. In
   * its own call, the messages after it fail too (AE), so that their sender resends them after
   * it, in order.
   */
  private async insertIsolating(batch: Waiting[]): Promise<void> {
    try {
      await this.insert(batch);
      return;
    } catch (e) {
      if (batch.length === 1 || !refusedValue(e)) throw e;
    }
    const calls = new Map<number, Waiting[]>();
    for (const w of batch) {
      const list = calls.get(w.call);
      if (list) list.push(w);
      else calls.set(w.call, [w]);
    }
    for (const call of calls.values()) {
      let failed: Error | undefined;
      for (const w of call) {
        if (!failed) {
          try {
            await this.insert([w]);
            continue;
          } catch (e) {
            failed = e as Error;
          }
        }
        w.reject(failed);
      }
    }
  }

  private async insert(batch: Waiting[]): Promise<void> {
    // the same message twice in one batch (a fast resend): the first is inserted, the rest wait for it
    const first = new Map<string, Waiting>();
    const later: Waiting[] = [];
    for (const w of batch) {
      const k = key(w.record.sendingFacility, w.record.controlId);
      if (first.has(k)) later.push(w);
      else first.set(k, w);
    }
    const rows = [...first.values()].map((w) => w.record);
    const col = <K extends keyof MessageRecord>(k: K) => rows.map((r) => r[k]);
    const dOrd: number[] = [];
    const dTarget: string[] = [];
    const dPartition: number[] = [];
    const dAfter: (number | null)[] = [];
    // int[][] cannot be unnested row by row: each row's lanes go as an array literal
    const dAfterAll: (string | null)[] = [];
    rows.forEach((r, i) =>
      r.deliveries.forEach((d) => {
        dOrd.push(i + 1);
        dTarget.push(d.target);
        dPartition.push(d.partition);
        dAfter.push(d.afterPartitions?.[0] ?? null);
        dAfterAll.push(d.afterPartitions ? `{${d.afterPartitions.join(',')}}` : null);
      }),
    );
    const { rows: inserted } = await this.pool.query<{ id: string; sending_facility: string; control_id: string }>({
      // prepared once per connection: planning this statement costs more than running it
      name: 'hl7-store-messages',
      text: `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                              $10::text[], $11::text[], $12::text[], $13::text[], $14::bytea[], $15::text[], $16::text[], $17::text[], $18::text[], $24::boolean[])
           WITH ORDINALITY AS t(sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                                message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                                patient_key, charset, raw, peer, rule_id, mode, ack_code, emergency, ord)
       ), ins AS (
         INSERT INTO hl7_messages (sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                                   message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                                   patient_key, charset, raw, peer, rule_id, mode, ack_code, emergency)
         SELECT sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                patient_key, charset, raw, peer, rule_id, mode, ack_code, emergency
           FROM input ORDER BY ord
         ON CONFLICT ON CONSTRAINT hl7_messages_once DO NOTHING
         RETURNING id, sending_facility, control_id
       ), dels AS (
         INSERT INTO hl7_deliveries (message_id, target, partition, after_partition, after_partitions)
         SELECT ins.id, d.target, d.partition, d.after_partition, d.after_partitions::int[]
           FROM unnest($19::int[], $20::text[], $21::int[], $22::int[], $23::text[]) WITH ORDINALITY AS d(ord, target, partition, after_partition, after_partitions, n)
           JOIN input i ON i.ord = d.ord
           JOIN ins ON ins.sending_facility = i.sending_facility AND ins.control_id = i.control_id
          ORDER BY ins.id, d.n
       )
       SELECT id, sending_facility, control_id FROM ins`,
      values: [
        col('sendingApplication'),
        col('sendingFacility'),
        col('receivingApplication'),
        col('receivingFacility'),
        col('controlId'),
        col('messageType'),
        col('triggerEvent'),
        col('version'),
        col('processingId'),
        col('acceptAckType'),
        col('applicationAckType'),
        col('patientKey'),
        col('charset'),
        col('raw'),
        col('peer'),
        col('ruleId'),
        col('mode'),
        col('ackCode'),
        dOrd,
        dTarget,
        dPartition,
        dAfter,
        dAfterAll,
        rows.map((r) => r.emergency === true),
      ],
    });
    const stored = new Map(inserted.map((r) => [key(r.sending_facility, r.control_id), Number(r.id)]));
    const duplicates = [...first.values()].filter((w) => !stored.has(key(w.record.sendingFacility, w.record.controlId)));
    const earlier = await this.findExisting([...duplicates, ...later].map((w) => w.record));
    for (const w of first.values()) {
      const id = stored.get(key(w.record.sendingFacility, w.record.controlId));
      if (id !== undefined) w.resolve({ kind: 'stored', id });
    }
    for (const w of [...duplicates, ...later]) {
      const found = earlier.get(key(w.record.sendingFacility, w.record.controlId));
      if (found) w.resolve({ kind: 'duplicate', id: found.id, ackCode: found.ackCode, authoritative: found.authoritative, differs: !sameMessage(found.raw, w.record.raw) });
      else w.reject(new Error('a resent message was neither stored nor found'));
    }
    if (inserted.length > 0) {
      const lanes = new Map<string, Delivery>();
      for (const w of first.values()) {
        if (!stored.has(key(w.record.sendingFacility, w.record.controlId))) continue;
        for (const d of w.record.deliveries) lanes.set(`${d.target}#${d.partition}`, d);
      }
      this.committed([...lanes.values()]);
    }
  }

  private async findExisting(records: MessageRecord[]): Promise<Map<string, { id: number; ackCode: string; raw: Buffer; authoritative: AuthoritativeDelivery | undefined }>> {
    if (records.length === 0) return new Map();
    const { rows } = await this.pool.query<{ id: string; sending_facility: string; control_id: string; ack_code: string; raw: Buffer; target: string | null; partition: number; status: AuthoritativeDelivery['status'] | null; answer: string | null }>(
      `SELECT m.id, m.sending_facility, m.control_id, m.ack_code, m.raw, a.target, a.partition, a.status, a.answer
         FROM hl7_messages m JOIN unnest($1::text[], $2::text[]) AS k(f, c) ON m.sending_facility = k.f AND m.control_id = k.c
         LEFT JOIN LATERAL (SELECT d.target, d.partition, d.status, d.answer FROM hl7_deliveries d
                             WHERE d.message_id = m.id AND d.replay_reason IS NULL ORDER BY d.id LIMIT 1) a ON true`,
      [records.map((r) => r.sendingFacility), records.map((r) => r.controlId)],
    );
    return new Map(
      rows.map((r) => [
        key(r.sending_facility, r.control_id),
        { id: Number(r.id), ackCode: r.ack_code, raw: r.raw, authoritative: r.target && r.status ? { target: r.target, partition: r.partition, status: r.status, answer: r.answer } : undefined },
      ]),
    );
  }

  /** Where the authoritative deliveries of these messages stand. */
  async authoritative(messageIds: number[]): Promise<Map<number, AuthoritativeDelivery>> {
    if (messageIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ message_id: string; target: string; partition: number; status: AuthoritativeDelivery['status']; answer: string | null }>(
      `SELECT DISTINCT ON (d.message_id) d.message_id, d.target, d.partition, d.status, d.answer
         FROM hl7_deliveries d WHERE d.message_id = ANY($1::bigint[]) AND d.replay_reason IS NULL
        ORDER BY d.message_id, d.id`,
      [messageIds],
    );
    return new Map(rows.map((r) => [Number(r.message_id), { target: r.target, partition: r.partition, status: r.status, answer: r.answer }]));
  }

  /** A frame that could not be accepted, kept for diagnosis (best effort); a NUL in its control id (refused for it) as in storable. */
  async reject(peer: string | null, code: number, text: string, controlId: string | undefined, raw: Buffer): Promise<void> {
    const id = controlId?.replaceAll('\u0000', '\uFFFD') ?? null;
    await this.pool.query('INSERT INTO hl7_rejects (peer, error_code, error_text, control_id, raw) VALUES ($1, $2, $3, $4, $5)', [peer, code, text, id, raw]);
  }
}
