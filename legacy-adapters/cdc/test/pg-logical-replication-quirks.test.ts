/**
 * Why the PostgreSQL source speaks the replication protocol itself instead of using
 * pg-logical-replication 2.5.0: measured here on a real server, the library moves the slot past
 * changes that an async handler has not finished with (auto-acknowledge, and its timer even
 * with `auto: false`), and acknowledges one byte beyond the LSN it is given. Each of these
 * would lose changes after a crash. If a later version fixes them, these tests fail and the
 * choice can be revisited.
 */
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { formatLsn, parseLsn } from '../src/postgres/pgoutput.js';
import { until } from './support/cdc-scene.js';

let db: TestDatabase;
let pool: pg.Pool;
const services: LogicalReplicationService[] = [];

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'cdc_plr_quirks');
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  await pool.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT); CREATE PUBLICATION p FOR TABLE t');
});
afterAll(async () => {
  for (const s of services) await s.destroy().catch(() => undefined);
  await pool.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active').catch(() => undefined);
  await pool?.end();
  await db?.drop();
});

async function slot(name: string): Promise<void> {
  await pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [name]);
}
const confirmed = async (name: string) => parseLsn((await pool.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [name])).rows[0]!.lsn);
const currentLsn = async () => parseLsn((await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);

function service(config?: ConstructorParameters<typeof LogicalReplicationService>[1]): LogicalReplicationService {
  const s = new LogicalReplicationService({ connectionString: db.url }, config);
  s.on('error', () => undefined);
  services.push(s);
  return s;
}

describe('pg-logical-replication 2.5.0', () => {
  it('acknowledges a change by default before an async handler has done anything with it', async () => {
    await slot('plr_auto');
    const s = service(); // acknowledge.auto: true is the default
    let handled = 0;
    s.on('data', async () => {
      await new Promise((r) => setTimeout(r, 60_000)); // "enqueuing" that has not finished
      handled++;
    });
    void s.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ['p'] }), 'plr_auto').catch(() => undefined);
    await until(() => !s.isStop(), 'streaming');
    const start = await currentLsn(); // the insert's commit record starts at or after this
    await pool.query("INSERT INTO t VALUES (1, 'a')");
    await until(async () => (await confirmed('plr_auto')) > start, 'the slot to move past the insert', 15_000);
    expect(handled).toBe(0); // a crash now loses the change: the slot will not send it again
    await s.stop();
  });

  it('with auto: false, still acknowledges what it received on a timer (timeoutSeconds), keepalives included', async () => {
    await slot('plr_manual');
    const s = service({ acknowledge: { auto: false, timeoutSeconds: 1 } });
    s.on('data', () => undefined); // never acknowledged by us
    void s.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ['p'] }), 'plr_manual').catch(() => undefined);
    await until(() => !s.isStop(), 'streaming');
    const start = await currentLsn();
    expect(await confirmed('plr_manual')).toBeLessThanOrEqual(start);
    await pool.query("INSERT INTO t VALUES (2, 'b')");
    // nobody called acknowledge(), yet the slot moves past the change
    await until(async () => (await confirmed('plr_manual')) > start, 'the timer to acknowledge', 15_000);
    await s.stop();
  });

  it('acknowledges one byte beyond the LSN it is given', async () => {
    await slot('plr_plus_one');
    const s = service({ acknowledge: { auto: false, timeoutSeconds: 0 } });
    s.on('data', () => undefined);
    void s.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ['p'] }), 'plr_plus_one').catch(() => undefined);
    await until(() => !s.isStop(), 'streaming');
    await pool.query("INSERT INTO t VALUES (3, 'c')");
    const before = await confirmed('plr_plus_one');
    const target = await currentLsn();
    await s.acknowledge(formatLsn(target));
    await until(async () => (await confirmed('plr_plus_one')) !== before, 'the acknowledgement', 15_000);
    expect(await confirmed('plr_plus_one')).toBe(target + 1n);
    await s.stop();
  });
});
