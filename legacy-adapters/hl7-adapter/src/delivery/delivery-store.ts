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
}

export class DeliveryStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The oldest pending deliveries of a target, in order, after marking `delivered` as done: one
   * round trip per round of the dispatcher. (The CTE's update is not visible to the select of
   * the same statement, hence the explicit exclusion.)
   */
  async nextRound(target: string, limit: number, delivered: number[]): Promise<PendingDelivery[]> {
    const { rows } = await this.pool.query<Row>(
      `WITH done AS (
         UPDATE hl7_deliveries SET status = 'delivered', delivered_at = clock_timestamp(), attempts = attempts + 1
          WHERE id = ANY($3::bigint[]) AND status = 'pending'
       )
       SELECT d.id, d.message_id, d.target, d.partition, d.attempts, d.next_attempt_at, d.replay_reason,
              m.raw, m.control_id, m.message_type, m.trigger_event, m.sending_facility, m.patient_key
         FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id
        WHERE d.status = 'pending' AND d.target = $1 AND d.id <> ALL($3::bigint[])
        ORDER BY d.id LIMIT $2`,
      [target, limit, delivered],
    );
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
    }));
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
    await this.pool.query("UPDATE hl7_deliveries SET status = 'delivered', delivered_at = clock_timestamp(), attempts = attempts + 1, answer = $2 WHERE id = ANY($1)", [ids, answer]);
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
    const { rows } = await this.pool.query<{ target: string; pending: string; dead: string }>(
      `SELECT target, count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'dead') AS dead
         FROM hl7_deliveries WHERE status IN ('pending', 'dead') GROUP BY target`,
    );
    return rows.map((r) => ({ target: r.target, pending: Number(r.pending), dead: Number(r.dead) }));
  }
}
