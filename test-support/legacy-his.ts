/**
 * A legacy HIS on a fresh database of its own, listening on a free port, for one test file.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { buildLegacyHis, migrateLegacy, seedLegacy, type SeedReport } from '@ficus/legacy-his';

export interface Harness {
  db: TestDatabase;
  pool: pg.Pool;
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  base: string;
  seed: SeedReport;
  close(): Promise<void>;
}

export async function startHarness(prefix: string, seed: { patients: number; seed?: number } = { patients: 3000 }): Promise<Harness> {
  const db = await createTestDatabase(inject('databaseUrl'), prefix);
  await migrateLegacy(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  const report = await seedLegacy(pool, seed);
  const app = await buildLegacyHis({ pool });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    db,
    pool,
    app,
    base: `http://127.0.0.1:${port}`,
    seed: report,
    async close() {
      await app.close();
      await pool.end();
      await db.drop();
    },
  };
}

export async function getJson<T = unknown>(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: T }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function sqlValue<T>(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await pool.query<{ v: T }>(sql, params);
  if (!rows[0]) throw new Error(`no row from ${sql}`);
  return rows[0].v;
}
