/**
 * SERVICE_DEDUP_RETENTION_DAYS: the HL7 messages applied and the positions of deleted rows go
 * after the retention, batch by batch; what is younger, and the positions of live rows however
 * old, stay. A real service database (the kit's and the change consumer's migrations).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { migrateService, purgeDedupState, startDedupRetention } from '@ficus/service-kit';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

let db: TestDatabase;
let pool: pg.Pool;
const log = createLogger('dedup-retention-test', { level: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'dedup_retention');
  await migrateService(db.url, 'patient-service');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** n applied messages and n positions (every other one a tombstone), `daysAgo` old */
async function fill(tag: string, n: number, daysAgo: number): Promise<void> {
  await pool.query(
    `INSERT INTO ficus_hl7_applied (sending_facility, control_id, message_type, trigger_event, message_id, applied_at)
     SELECT 'FAC', $1 || g, 'ADT', 'A08', g, clock_timestamp() - make_interval(days => $3) FROM generate_series(1, $2) g`,
    [tag, n, daysAgo],
  );
  await pool.query(
    `INSERT INTO ficus_change_positions (topic, key, source, position, deleted, applied_at)
     SELECT 'patients', $1 || g, 'legacy', lpad(g::text, 16, '0'), g % 2 = 0, clock_timestamp() - make_interval(days => $3) FROM generate_series(1, $2) g`,
    [tag, n, daysAgo],
  );
}

const count = async (sql: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`)).rows[0]!.n);

describe('deduplication state retention', () => {
  it('deletes applied messages and tombstones older than the retention, in batches, and keeps the rest', async () => {
    await fill('old-', 25, 40);
    await fill('young-', 10, 5);
    const r = await purgeDedupState({ pool, days: 30, batch: 4 });
    expect(r).toEqual({ hl7Applied: 25, tombstones: 12 });
    expect(await count("ficus_hl7_applied WHERE control_id LIKE 'old-%'")).toBe(0);
    expect(await count("ficus_hl7_applied WHERE control_id LIKE 'young-%'")).toBe(10);
    // live rows' positions stay however old: they are what makes a redelivered change harmless
    expect(await count("ficus_change_positions WHERE key LIKE 'old-%' AND NOT deleted")).toBe(13);
    expect(await count("ficus_change_positions WHERE key LIKE 'old-%' AND deleted")).toBe(0);
    expect(await count("ficus_change_positions WHERE key LIKE 'young-%'")).toBe(10);
    expect(await purgeDedupState({ pool, days: 30 })).toEqual({ hl7Applied: 0, tombstones: 0 });
  });

  it('runs by itself once started, counts what it purged, and not at all with 0 days', async () => {
    await fill('again-', 6, 60);
    const none = startDedupRetention({ pool, days: 0, log, everyMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    await none.stop();
    expect(await count("ficus_hl7_applied WHERE control_id LIKE 'again-%'")).toBe(6);

    const purged: Record<string, number> = {};
    const retention = startDedupRetention({ pool, days: 30, log, everyMs: 20, purged: (what, n) => (purged[what] = (purged[what] ?? 0) + n) });
    for (let i = 0; i < 100 && purged['hl7-applied'] === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    await retention.stop();
    expect(purged).toEqual({ 'hl7-applied': 6, tombstones: 3 });
    expect(await count("ficus_hl7_applied WHERE control_id LIKE 'again-%'")).toBe(0);
  });
});
