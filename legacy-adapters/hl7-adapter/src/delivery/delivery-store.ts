/**
 * The delivery side of the message store: what is pending for a target, partition by
 * partition in message order, and the outcome of each attempt.
 */
import type pg from 'pg';

export interface PendingDelivery {
  id: number;
  messageId: number;
  target: string;
  partition: number;
  attempts: number;
  notBefore: number;
  raw: Buffer;
  controlId: string;
  messageType: string;
  triggerEvent: string;
  sendingFacility: string;
  patientKey: string | null;
  replay: boolean;
  /** a merge: the lanes whose older pending deliveries go first (the other merged patients'); empty: none */
  afterPartitions: number[];
  /** the message has a delivery to a legacy inbound too (mode `dual`): a service must not write back what it applies */
  legacyToo?: boolean;
}

interface Row {
  id: string;
  message_id: string;
  target: string;
  partition: number;
  attempts: number;
  next_attempt_at: Date;
  raw: Buffer;
  control_id: string;
  message_type: string;
  trigger_event: string;
  sending_facility: string;
  patient_key: string | null;
  replay_reason: string | null;
  after_partition: number | null;
  after_partitions: number[] | null;
  legacy_too: boolean;
}

/** a later delivery of the same message to the same target (a replay) that went through: dead letter `d` is resolved */
export const RESOLVED_BY = `SELECT x.id FROM hl7_deliveries x
                      WHERE x.message_id = d.message_id AND x.target = d.target AND x.id > d.id AND x.status = 'delivered'
                      ORDER BY x.id LIMIT 1`;

/** per target: deliveries pending, and dead letters not resolved by a replay (what needs a person); each from its partial index */
export const DELIVERY_COUNTS = `
  SELECT target, sum(pending)::bigint AS pending, sum(dead)::bigint AS dead FROM (
    SELECT target, count(*) AS pending, 0 AS dead FROM hl7_deliveries WHERE status = 'pending' GROUP BY target
    UNION ALL
    SELECT d.target, 0, count(*) FROM hl7_deliveries d WHERE d.status = 'dead' AND NOT EXISTS (${RESOLVED_BY}) GROUP BY d.target
  ) c GROUP BY target`;

export class DeliveryStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The oldest pending deliveries of each lane (partition) of a target that is not being worked
   * on and whose head is due, in order, after marking `delivered` as done: one round trip per
   * round of the dispatcher. Each lane is read from its own head, so a lane held by a retry
   * never hides the others' work, and a lane waiting for its retry costs no rows. (The CTE's
   * update is not visible to the rest of the statement, hence the explicit exclusion.)
   */
  async nextRound(target: string, perLane: number, delivered: number[], busyLanes: number[] = []): Promise<PendingDelivery[]> {
    const { rows } = await this.pool.query<Row>({
      name: 'hl7-next-round',
      text: `WITH RECURSIVE done AS (
         UPDATE hl7_deliveries SET status = 'delivered', delivered_at = clock_timestamp(), attempts = attempts + 1
          WHERE id = ANY($3::bigint[]) AND status = 'pending'
       ), lanes AS (
         -- the partitions with something pending: a loose index scan, cheap however many wait
         (SELECT partition FROM hl7_deliveries WHERE status = 'pending' AND target = $1 ORDER BY partition LIMIT 1)
         UNION ALL
         SELECT (SELECT x.partition FROM hl7_deliveries x WHERE x.status = 'pending' AND x.target = $1 AND x.partition > lanes.partition ORDER BY x.partition LIMIT 1)
           FROM lanes WHERE lanes.partition IS NOT NULL
       ), heads AS (
         SELECT lanes.partition, h.next_attempt_at AS due
           FROM lanes CROSS JOIN LATERAL (
                SELECT y.next_attempt_at FROM hl7_deliveries y
                 WHERE y.status = 'pending' AND y.target = $1 AND y.partition = lanes.partition AND y.id <> ALL($3::bigint[])
                 ORDER BY y.id LIMIT 1) h
          WHERE lanes.partition IS NOT NULL AND lanes.partition <> ALL($4::int[])
       )
       SELECT d.id, d.message_id, d.target, d.partition, d.attempts, d.next_attempt_at, d.replay_reason, d.after_partition, d.after_partitions,
              m.raw, m.control_id, m.message_type, m.trigger_event, m.sending_facility, m.patient_key,
              EXISTS (SELECT 1 FROM hl7_deliveries l WHERE l.message_id = d.message_id AND l.target LIKE 'legacy:%') AS legacy_too
         FROM heads
        CROSS JOIN LATERAL (
              SELECT * FROM hl7_deliveries y
               WHERE y.status = 'pending' AND y.target = $1 AND y.partition = heads.partition AND y.id <> ALL($3::bigint[])
               ORDER BY y.id LIMIT $2) d
         JOIN hl7_messages m ON m.id = d.message_id
        WHERE heads.due <= clock_timestamp()
        ORDER BY d.id`,
      values: [target, perLane, delivered, busyLanes],
    });
    return rows.map((r) => ({
      id: Number(r.id),
      messageId: Number(r.message_id),
      target: r.target,
      partition: r.partition,
      attempts: r.attempts,
      notBefore: r.next_attempt_at.getTime(),
      raw: r.raw,
      controlId: r.control_id,
      messageType: r.message_type,
      triggerEvent: r.trigger_event,
      sendingFacility: r.sending_facility,
      patientKey: r.patient_key,
      replay: r.replay_reason !== null,
      // a delivery stored before after_partitions existed names its one lane in after_partition
      afterPartitions: r.after_partitions ?? (r.after_partition === null ? [] : [r.after_partition]),
      legacyToo: r.legacy_too,
    }));
  }

  /** Whether a delivery older than `id` is still pending in the lane (target, partition): a merge waits for it. */
  async pendingBefore(target: string, partitions: readonly number[], id: number): Promise<boolean> {
    const { rows } = await this.pool.query({
      name: 'hl7-pending-before',
      text: "SELECT 1 FROM hl7_deliveries WHERE status = 'pending' AND target = $1 AND partition = ANY($2::int[]) AND id < $3 LIMIT 1",
      values: [target, partitions, id],
    });
    return rows.length > 0;
  }

  /**
   * The pending deliveries of a target for messages of several patients (naming other lanes in
   * after_partitions), and the newest delivery id there was when they were read (one snapshot):
   * every such delivery up to it is in the list.
   */
  async multiLanePending(target: string): Promise<{ upTo: number; deliveries: { id: number; partition: number; afterPartitions: number[] }[] }> {
    const { rows } = await this.pool.query<{ up_to: string | null; id: string | null; partition: number; after_partitions: number[] }>({
      name: 'hl7-multi-lane-pending',
      text: `SELECT (SELECT max(id) FROM hl7_deliveries) AS up_to, d.id, d.partition, d.after_partitions
               FROM (SELECT 1) one LEFT JOIN hl7_deliveries d ON d.status = 'pending' AND d.target = $1 AND d.after_partitions IS NOT NULL`,
      values: [target],
    });
    return {
      upTo: Number(rows[0]?.up_to ?? 0),
      deliveries: rows.filter((r) => r.id !== null).map((r) => ({ id: Number(r.id), partition: r.partition, afterPartitions: r.after_partitions })),
    };
  }

  /** Which of these deliveries are still pending. */
  async stillPending(ids: number[]): Promise<Set<number>> {
    const { rows } = await this.pool.query<{ id: string }>("SELECT id FROM hl7_deliveries WHERE id = ANY($1::bigint[]) AND status = 'pending'", [ids]);
    return new Set(rows.map((r) => Number(r.id)));
  }

  /** A message of several patients published to a service's queue, held until the service is done with it: says so, once. */
  async heldForService(id: number, note: string): Promise<void> {
    await this.pool.query('UPDATE hl7_deliveries SET attempts = attempts + 1, last_error = $2 WHERE id = $1 AND attempts = 0', [id, note]);
  }

  /** What a new service made of a message (service-answers.ts), kept with the message's first delivery to it. */
  async serviceAnswered(messageId: number, target: string, answer: string): Promise<void> {
    await this.pool.query('UPDATE hl7_deliveries SET answer = $3 WHERE message_id = $1 AND target = $2 AND replay_reason IS NULL', [messageId, target, answer]);
  }

  /** Targets with something pending. */
  async busyTargets(): Promise<string[]> {
    // a loose index scan over the partial index: cheap however many are pending
    const { rows } = await this.pool.query<{ target: string }>(
      `WITH RECURSIVE t AS (
         (SELECT target FROM hl7_deliveries WHERE status = 'pending' ORDER BY target LIMIT 1)
         UNION ALL
         SELECT (SELECT target FROM hl7_deliveries WHERE status = 'pending' AND target > t.target ORDER BY target LIMIT 1) FROM t WHERE t.target IS NOT NULL
       ) SELECT target FROM t WHERE target IS NOT NULL`,
    );
    return rows.map((r) => r.target);
  }

  async delivered(ids: number[], answer: string | null): Promise<void> {
    // a service's answer may already be kept with a delivery marked late (at shutdown): never wiped
    await this.pool.query("UPDATE hl7_deliveries SET status = 'delivered', delivered_at = clock_timestamp(), attempts = attempts + 1, answer = coalesce($2, answer) WHERE id = ANY($1)", [ids, answer]);
  }

  async dead(id: number, answer: string): Promise<void> {
    await this.pool.query("UPDATE hl7_deliveries SET status = 'dead', attempts = attempts + 1, answer = $2, last_error = $2 WHERE id = $1", [id, answer]);
  }

  async retryLater(id: number, error: string, delayMs: number): Promise<void> {
    await this.pool.query(
      "UPDATE hl7_deliveries SET attempts = attempts + 1, last_error = $2, next_attempt_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1",
      [id, error.slice(0, 500), delayMs / 1000],
    );
  }

  async counts(): Promise<{ target: string; pending: number; dead: number }[]> {
    const { rows } = await this.pool.query<{ target: string; pending: string; dead: string }>(DELIVERY_COUNTS);
    return rows.map((r) => ({ target: r.target, pending: Number(r.pending), dead: Number(r.dead) }));
  }
}
