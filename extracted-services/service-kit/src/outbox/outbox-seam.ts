/**
 * Where a change made by a service as system of record is handed to the outbox, inside the
 * transaction that made it: the row under its topic's field names (CDC-TOPICS.md: `patients`,
 * `admissions`, `patient-merges`, `lab-results`), so that the outbox relay can publish it and
 * the legacy writer (the CDC deployable) can write it back: `outboxTable`, the outbox of
 * @ficus/contracts/queues, which startService migrates and relays. While the legacy is the
 * system of record nothing is handed over: the legacy has the change already.
 */
import type pg from 'pg';
import { writeOutboxEvent } from '@ficus/contracts/queues';

export interface OutgoingChange {
  topic: string;
  op: 'create' | 'update' | 'delete';
  key: Record<string, unknown>;
  /** the row before the change, when the writer had it at hand (API writes), else null; less the fields whose legacy value it does not know (write-back-image.ts) */
  before: Record<string, unknown> | null;
  /** the row after the change; null for a delete */
  after: Record<string, unknown> | null;
}

export type OutboxSeam = (tx: pg.PoolClient, change: OutgoingChange) => Promise<void>;

/** The service's outbox table (ficus_outbox): published by the outbox relay in id order. */
export const outboxTable: OutboxSeam = async (tx, change) => {
  await writeOutboxEvent(tx, change);
};

/** No outbox: changes stay in the service's database only (tests that look at the seam itself). */
export const noOutbox: OutboxSeam = async () => undefined;
