/**
 * The message store. Messages are inserted with their deliveries in one statement, so a
 * message is never stored without knowing where it must go. Inserts from all connections are
 * grouped: while commits are under way (a few at a time, which PostgreSQL flushes together) the
 * next messages gather and go in one statement. No caller is answered before the commit that
 * holds its message; one connection never has two messages in flight, so its order holds.
 */
import type pg from 'pg';

export interface Delivery {
  target: string;
  partition: number;
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
  ackCode: string;
  deliveries: Delivery[];
}

/** Where the authoritative delivery of a stored message stands (the first one it was given). */
export interface AuthoritativeDelivery {
  target: string;
  status: 'pending' | 'delivered' | 'dead';
  /** the target's answer, for a dead letter `AE: why` or `AR: why` */
  answer: string | null;
}

export type StoreOutcome = { kind: 'stored'; id: number } | { kind: 'duplicate'; id: number; ackCode: string; authoritative: AuthoritativeDelivery | undefined };

interface Waiting {
  record: MessageRecord;
  resolve: (o: StoreOutcome) => void;
  reject: (e: Error) => void;
}

const MAX_BATCH = 500;
const key = (facility: string, controlId: string) => `${facility}\u0000${controlId}`;

export class MessageStore {
  private waiting: Waiting[] = [];
  private committing = 0;

  constructor(
    private readonly pool: pg.Pool,
    /** called after each commit that stored new messages, with their lanes (wakes the dispatcher) */
    private readonly committed: (lanes: Delivery[]) => void = () => {},
    /** statements in flight at once */
    private readonly parallel = 2,
  ) {}

  /** Stores a message (or recognises a resend); resolves after the commit. */
  store(record: MessageRecord): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ record, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    if (this.committing >= this.parallel || this.waiting.length === 0) return;
    this.committing++;
    const batch = this.waiting.splice(0, MAX_BATCH);
    this.insert(batch)
      .catch((e: Error) => {
        for (const w of batch) w.reject(e);
      })
      .finally(() => {
        this.committing--;
        this.flush();
      });
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
    rows.forEach((r, i) =>
      r.deliveries.forEach((d) => {
        dOrd.push(i + 1);
        dTarget.push(d.target);
        dPartition.push(d.partition);
      }),
    );
    const { rows: inserted } = await this.pool.query<{ id: string; sending_facility: string; control_id: string }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                              $10::text[], $11::text[], $12::text[], $13::text[], $14::bytea[], $15::text[], $16::text[], $17::text[], $18::text[])
           WITH ORDINALITY AS t(sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                                message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                                patient_key, charset, raw, peer, rule_id, mode, ack_code, ord)
       ), ins AS (
         INSERT INTO hl7_messages (sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                                   message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                                   patient_key, charset, raw, peer, rule_id, mode, ack_code)
         SELECT sending_application, sending_facility, receiving_application, receiving_facility, control_id,
                message_type, trigger_event, version, processing_id, accept_ack_type, application_ack_type,
                patient_key, charset, raw, peer, rule_id, mode, ack_code
           FROM input ORDER BY ord
         ON CONFLICT ON CONSTRAINT hl7_messages_once DO NOTHING
         RETURNING id, sending_facility, control_id
       ), dels AS (
         INSERT INTO hl7_deliveries (message_id, target, partition)
         SELECT ins.id, d.target, d.partition
           FROM unnest($19::int[], $20::text[], $21::int[]) WITH ORDINALITY AS d(ord, target, partition, n)
           JOIN input i ON i.ord = d.ord
           JOIN ins ON ins.sending_facility = i.sending_facility AND ins.control_id = i.control_id
          ORDER BY ins.id, d.n
       )
       SELECT id, sending_facility, control_id FROM ins`,
      [
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
      ],
    );
    const stored = new Map(inserted.map((r) => [key(r.sending_facility, r.control_id), Number(r.id)]));
    const duplicates = [...first.values()].filter((w) => !stored.has(key(w.record.sendingFacility, w.record.controlId)));
    const earlier = await this.findExisting([...duplicates, ...later].map((w) => w.record));
    for (const w of first.values()) {
      const id = stored.get(key(w.record.sendingFacility, w.record.controlId));
      if (id !== undefined) w.resolve({ kind: 'stored', id });
    }
    for (const w of [...duplicates, ...later]) {
      const found = earlier.get(key(w.record.sendingFacility, w.record.controlId));
      if (found) w.resolve({ kind: 'duplicate', ...found });
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

  private async findExisting(records: MessageRecord[]): Promise<Map<string, { id: number; ackCode: string; authoritative: AuthoritativeDelivery | undefined }>> {
    if (records.length === 0) return new Map();
    const { rows } = await this.pool.query<{ id: string; sending_facility: string; control_id: string; ack_code: string; target: string | null; status: AuthoritativeDelivery['status'] | null; answer: string | null }>(
      `SELECT m.id, m.sending_facility, m.control_id, m.ack_code, a.target, a.status, a.answer
         FROM hl7_messages m JOIN unnest($1::text[], $2::text[]) AS k(f, c) ON m.sending_facility = k.f AND m.control_id = k.c
         LEFT JOIN LATERAL (SELECT d.target, d.status, d.answer FROM hl7_deliveries d
                             WHERE d.message_id = m.id AND d.replay_reason IS NULL ORDER BY d.id LIMIT 1) a ON true`,
      [records.map((r) => r.sendingFacility), records.map((r) => r.controlId)],
    );
    return new Map(
      rows.map((r) => [
        key(r.sending_facility, r.control_id),
        { id: Number(r.id), ackCode: r.ack_code, authoritative: r.target && r.status ? { target: r.target, status: r.status, answer: r.answer } : undefined },
      ]),
    );
  }

  /** Where the authoritative deliveries of these messages stand. */
  async authoritative(messageIds: number[]): Promise<Map<number, AuthoritativeDelivery>> {
    if (messageIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ message_id: string; target: string; status: AuthoritativeDelivery['status']; answer: string | null }>(
      `SELECT DISTINCT ON (d.message_id) d.message_id, d.target, d.status, d.answer
         FROM hl7_deliveries d WHERE d.message_id = ANY($1::bigint[]) AND d.replay_reason IS NULL
        ORDER BY d.message_id, d.id`,
      [messageIds],
    );
    return new Map(rows.map((r) => [Number(r.message_id), { target: r.target, status: r.status, answer: r.answer }]));
  }

  /** A frame that could not be accepted, kept for diagnosis (best effort). */
  async reject(peer: string | null, code: number, text: string, controlId: string | undefined, raw: Buffer): Promise<void> {
    await this.pool.query('INSERT INTO hl7_rejects (peer, error_code, error_text, control_id, raw) VALUES ($1, $2, $3, $4, $5)', [peer, code, text, controlId ?? null, raw]);
  }
}
