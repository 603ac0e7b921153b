/**
 * withTransaction on a real PostgreSQL: the work commits; an error rolls it back and is thrown
 * again; rollback(value) rolls back and answers the value; a connection that died in the work
 * is not handed to the next caller.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rollback, withTransaction } from '../src/postgres/transaction.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'transaction');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE t (v TEXT PRIMARY KEY)');
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const values = async () => (await pool.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v);

describe('withTransaction', () => {
  it('commits the work and answers its value', async () => {
    const n = await withTransaction(pool, async (tx) => (await tx.query("INSERT INTO t VALUES ('a'), ('b')")).rowCount);
    expect(n).toBe(2);
    expect(await values()).toEqual(['a', 'b']);
  });

  it('rolls back all of the work on an error, and throws it', async () => {
    await expect(
      withTransaction(pool, async (tx) => {
        await tx.query("INSERT INTO t VALUES ('c')");
        await tx.query("INSERT INTO t VALUES ('a')"); // duplicate key
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await values()).toEqual(['a', 'b']);
  });

  it('rolls back on rollback(value) and answers the value', async () => {
    const r = await withTransaction(pool, async (tx) => {
      await tx.query("INSERT INTO t VALUES ('d')");
      return rollback('not today');
    });
    expect(r).toBe('not today');
    expect(await values()).toEqual(['a', 'b']);
  });

  it('does not give a dead connection to the next caller', async () => {
    await expect(withTransaction(pool, (tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())'))).rejects.toThrow();
    // both connections of the pool work afterwards
    const answers = await Promise.all([1, 2].map(() => withTransaction(pool, async (tx) => (await tx.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one)));
    expect(answers).toEqual([1, 1]);
  });
});
