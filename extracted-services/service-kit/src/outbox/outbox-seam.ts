/**
 * Where a change made by a service as system of record is handed to the outbox, inside the
 * transaction that made it: the row under its topic's field names (CDC-TOPICS.md: `patients`,
 * `admissions`, `patient-merges`, `lab-results`), so that the outbox relay can publish it and
 * the legacy writer can write it back. The outbox itself (its table and relay) comes with the
 * CDC work's helper in @ficus/contracts/queues; until it is wired in, the seam is `noOutbox`
 * and nothing is published. While the legacy is the system of record nothing is handed over:
 * the legacy has the change already.
 */
import type pg from 'pg';

export interface OutgoingChange {
  topic: string;
  op: 'create' | 'update' | 'delete';
  key: Record<string, unknown>;
  /** the row before the change, when the writer had it at hand (API writes), else null */
  before: Record<string, unknown> | null;
  /** the row after the change; null for a delete */
  after: Record<string, unknown> | null;
}

export type OutboxSeam = (tx: pg.PoolClient, change: OutgoingChange) => Promise<void>;

/** No outbox yet: changes stay in the service's database only. */
export const noOutbox: OutboxSeam = async () => undefined;
