/**
 * While the legacy system is the system of record, an HL7 handler may make an early
 * (provisional) copy of a record that the legacy's CDC brings a moment later, and each side
 * looks for the other to make one record of the two: the CDC feed gives the early copy the
 * legacy's id, the handler skips a record whose committed copy came first. Run at the same
 * moment, neither sees the other's uncommitted row, and the record is kept twice (seen on the
 * demo: a laboratory result listed twice). So both lock the patient first: handlers
 * exclusively, feeds shared (feeds do not wait for each other, only for a handler).
 *
 * Patients are hashed into 64 locks per kind of record: a feed's batch takes at most 64 locks
 * however many patients it holds (PostgreSQL's lock table is finite and shared), in one order
 * (two feeds never wait for each other in a cycle). The locks are held to the transaction's end.
 */
import type pg from 'pg';

const BUCKETS = 64;

export type EarlyCopySide = 'handler' | 'feed';

export async function lockEarlyCopies(tx: pg.PoolClient, kind: string, mrns: Iterable<string | null | undefined>, side: EarlyCopySide): Promise<void> {
  const keys = [...new Set([...mrns].filter((m): m is string => typeof m === 'string' && m !== ''))];
  if (keys.length === 0) return;
  const lock = side === 'handler' ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
  await tx.query(
    `SELECT ${lock}(hashtext($1::text), b) FROM (SELECT DISTINCT hashtext(m) & ${BUCKETS - 1} AS b FROM unnest($2::text[]) AS m ORDER BY b) s`,
    [kind, keys],
  );
}
