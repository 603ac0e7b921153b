/**
 * One transaction on a pooled connection: BEGIN, the work, COMMIT; on any error ROLLBACK and
 * the error again; the connection always goes back to the pool. Work that decides to change
 * nothing after all returns `rollback(value)`: the transaction is rolled back and `value`
 * answered.
 */
import type pg from 'pg';

const ROLLBACK = Symbol('rollback');

export interface Rollback<T> {
  readonly [ROLLBACK]: true;
  readonly value: T;
}

/** Ends the transaction with ROLLBACK instead of COMMIT, answering `value`. */
export function rollback<T>(value: T): Rollback<T> {
  return { [ROLLBACK]: true, value };
}

const isRollback = <T>(x: T | Rollback<T>): x is Rollback<T> => typeof x === 'object' && x !== null && ROLLBACK in x;

export async function withTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T | Rollback<T>>): Promise<T> {
  const tx = await pool.connect();
  // a connection lost while checked out is reported on the client, which the pool no longer
  // listens to (an unheard 'error' would end the process); the work's query fails with it anyway
  const lost = (): void => undefined;
  tx.on('error', lost);
  // a connection that cannot even roll back is not given to the next caller
  let broken: Error | undefined;
  try {
    await tx.query('BEGIN');
    const result = await work(tx);
    if (isRollback(result)) {
      await tx.query('ROLLBACK');
      return result.value;
    }
    await tx.query('COMMIT');
    return result;
  } catch (e) {
    await tx.query('ROLLBACK').catch((r: Error) => (broken = r));
    throw e;
  } finally {
    // a dead connection may still report its end after this: it keeps the listener
    if (!broken) tx.off('error', lost);
    tx.release(broken);
  }
}
