/**
 * Where a change made here as system of record is handed to the outbox, inside the
 * transaction that made it: the row under the topic's field names (CDC-TOPICS: `patients`,
 * `admissions`, `patient-merges`), so that the outbox relay can publish it and the legacy
 * writer can write it back. The outbox itself (its table and relay) comes with the CDC work's
 * helper; until it is wired in, the seam is `noOutbox` and nothing is published.
 */
import type pg from 'pg';

export interface OutgoingChange {
  topic: 'patients' | 'admissions' | 'patient-merges';
  op: 'create' | 'update' | 'delete';
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export type OutboxSeam = (tx: pg.PoolClient, change: OutgoingChange) => Promise<void>;

/** No outbox yet: changes stay in this database only. */
export const noOutbox: OutboxSeam = async () => undefined;
