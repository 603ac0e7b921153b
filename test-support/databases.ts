/**
 * Each test file works in databases of its own on the shared test server.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { withDatabase } from '@ficus/contracts';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(serverUrl: string, prefix: string): Promise<TestDatabase> {
  const name = `${prefix.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: () => admin(serverUrl, (c) => dropDatabase(c, name)),
  };
}

/**
 * Drops a database once its sessions have gone (up to half a second), then by force. A client
 * that has just ended (pool.end(), a migration library's own client) resolves before its session
 * is gone; FORCE would kill that session still ending, and its client raise an error nobody
 * listens to any more (an uncaught exception in the test run).
 */
export async function dropDatabase(c: Pick<pg.ClientBase, 'query'>, name: string): Promise<void> {
  for (let i = 0; i < 25; i++) {
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
    if (rows[0]!.n === 0) break;
    await sleep(20);
  }
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/**
 * Runs the "Up" part of a SQL migration file once more, in one transaction, as a restored backup
 * might need: for the tests that a migration changes nothing when run again.
 */
export async function rerunUpMigration(pool: pg.Pool, file: string): Promise<void> {
  const sql = readFileSync(file, 'utf8').split('-- Down Migration')[0]!;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
