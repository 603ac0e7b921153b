/**
 * The legacy stand-in's HL7 inbound (examples/legacy-his) on a legacy database of its own,
 * migrated, on a free port; it can be stopped and started again on the same port (legacy away
 * for a while).
 */
import pg from 'pg';
import { inject } from 'vitest';
import { migrateLegacy, startHl7Inbound, type RunningHl7Inbound } from '@ficus/legacy-his';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/databases.js';
import { freePort } from '../../../../scripts/lib/local-services.js';

export interface LegacyInbound {
  /** the legacy database, for what the test checks there */
  pool: pg.Pool;
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startLegacyInbound(dbName: string): Promise<LegacyInbound> {
  const db: TestDatabase = await createTestDatabase(inject('databaseUrl'), dbName);
  await migrateLegacy(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 10 });
  pool.on('error', () => undefined); // connections cut when the database is dropped at the end
  const port = await freePort();
  let inbound: RunningHl7Inbound | undefined = await startHl7Inbound({ pool, port });
  return {
    pool,
    port,
    url: `mllp://127.0.0.1:${port}`,
    async stop() {
      await inbound?.close();
      inbound = undefined;
    },
    async start() {
      inbound ??= await startHl7Inbound({ pool, port });
    },
    async close() {
      await inbound?.close();
      await pool.end();
      await db.drop();
    },
  };
}
