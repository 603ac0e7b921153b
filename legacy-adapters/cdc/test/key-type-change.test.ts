/**
 * A key column's type altered under a running CDC (the 2026-12 probe's t12: `ALTER TABLE
 * admission ALTER adm_id TYPE bigint` between two changes of one stay): with the deployable as
 * a real child process, the changes before and after the ALTER carry the key in two JSON forms
 * (int4 a number, int8 a string) but travel in one partition under one key, so the service
 * ends with the later bed; and the upgrade's migration of the write-back positions
 * (migrations/cdc-writeback/002) carries typed keys over.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, keyText, partitionQueueName, runMigrations, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTarget, startTargetConsumers, targetTable, type MirroredTopic } from '../../../test-support/cdc-target.js';
import { createTestDatabase, rerunUpMigration, type TestDatabase } from '../../../test-support/databases.js';
import { migrateWriteback } from '../src/writeback/legacy-writer.js';
import { ROOT, startScene, until, type CdcProcess, type Scene } from './support/cdc-scene.js';

const log = createLogger('cdc-key-type-test', { level: 'silent' });
let s: Scene;
let cdc: CdcProcess;
let targetDb: TestDatabase;
let target: pg.Pool;
let admissions: MirroredTopic;
let consumers: PartitionedConsumer<ChangeBatch>[] = [];

beforeAll(async () => {
  s = await startScene({ name: 'key_type', seedPatients: 10 });
  admissions = s.topics.find((t) => t.topic === s.topic('admissions'))!;
  targetDb = await createTestDatabase(inject('databaseUrl'), 'cdc_key_type_target');
  target = await createTarget(s.legacyPool, targetDb.url, [admissions]);
  cdc = await s.start();
});
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.close()));
  await cdc?.stop();
  await target?.end();
  await targetDb?.drop();
  await s?.close();
});

/** the queued changes of one stay, with the partition each is in */
async function queuedChangesOf(admissionId: number): Promise<{ partition: number; event: ChangeEvent }[]> {
  const found: { partition: number; event: ChangeEvent }[] = [];
  for (let p = 0; p < 8; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(admissions.topic), p), { connection: s.redis });
    for (const j of await q.getJobs(['waiting'], 0, -1, true)) for (const e of j.data.events) if (String(e.key.admissionId) === String(admissionId) && e.op === 'update') found.push({ partition: p, event: e });
    await q.close();
  }
  return found;
}

describe('ALTER … TYPE bigint of a captured key column', () => {
  it('keeps one stay in one partition under one key, and the service ends with the later change', async () => {
    const { rows } = await s.legacyPool.query<{ adm_id: number }>('SELECT adm_id FROM admission ORDER BY adm_id LIMIT 1');
    const id = rows[0]!.adm_id;
    await s.legacyPool.query("UPDATE admission SET bed_no = 'OLD' WHERE adm_id = $1", [id]);
    await s.legacyPool.query('ALTER TABLE lab_result ALTER COLUMN adm_id TYPE bigint');
    await s.legacyPool.query('ALTER TABLE admission ALTER COLUMN adm_id TYPE bigint');
    await s.legacyPool.query("UPDATE admission SET bed_no = 'NEW' WHERE adm_id = $1", [id]);
    const changes = await until(async () => {
      const c = await queuedChangesOf(id);
      return c.length === 2 && c;
    }, 'both changes queued');
    // before the ALTER a number, after it a string: one row all the same
    expect(changes.map((c) => [c.event.key.admissionId, c.event.after!.bed])).toEqual([
      [id, 'OLD'],
      [String(id), 'NEW'],
    ]);
    expect(keyText(changes[0]!.event.key)).toBe(keyText(changes[1]!.event.key));
    expect(changes[0]!.partition).toBe(changes[1]!.partition);

    consumers = await startTargetConsumers({ connection: s.redis, pool: target, topics: [admissions], partitions: 8, log });
    await until(async () => (await target.query<{ bed: string }>(`SELECT bed FROM ${targetTable(admissions.topic)} WHERE "admissionId" = $1`, [id])).rows[0]?.bed === 'NEW', 'the later bed in the service');
    const positions = await target.query<{ key: string }>('SELECT key FROM ficus_change_positions WHERE topic = $1 AND key LIKE $2', [admissions.topic, `%"${id}"%`]);
    expect(positions.rows).toEqual([{ key: `[["admissionId","${id}"]]` }]);
    expect(cdc.output()).not.toMatch(/CDC source stopped/);
  });
});

describe('the upgrade of stored write-back positions (migrations/cdc-writeback/002)', () => {
  it('carries typed keys over, the later position winning, and a second run changes nothing', async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'cdc_writeback_key_migration');
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-writeback-migration-'));
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      const all = path.join(ROOT, 'migrations/cdc-writeback');
      cpSync(path.join(all, '001_writeback-positions.sql'), path.join(dir, '001_writeback-positions.sql'));
      await runMigrations({ databaseUrl: db.url, dir, table: 'ficus_cdc_writeback_pgmigrations', createDatabase: false });
      const typed = (key: Record<string, unknown>) => JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));
      const pos = (n: number) => String(n).padStart(20, '0');
      for (const [service, topic, key, position] of [
        ['patient-service', 'admissions', typed({ admissionId: 1 }), pos(20)],
        ['patient-service', 'admissions', keyText({ admissionId: 1 }), pos(10)],
        ['patient-service', 'admissions', typed({ admissionId: 2 }), pos(5)],
        ['results-service', 'admissions', typed({ admissionId: 1 }), pos(3)],
        ['patient-service', 'patients', keyText({ mrn: '9000001' }), pos(7)],
      ]) {
        await pool.query('INSERT INTO ficus_writeback_positions (service, topic, key, position) VALUES ($1, $2, $3, $4)', [service, topic, key, position]);
      }
      const table = async () =>
        (await pool.query<{ service: string; topic: string; key: string; position: string }>('SELECT service, topic, key, position FROM ficus_writeback_positions')).rows
          .map((r) => `${r.service} ${r.topic} ${r.key} ${r.position}`)
          .sort();
      expect(await migrateWriteback(db.url, log)).toEqual(['002_canonical-key-text', '003_written-values']);
      const after = await table();
      expect(after).toEqual(
        [
          `patient-service admissions ${keyText({ admissionId: 1 })} ${pos(20)}`,
          `patient-service admissions ${keyText({ admissionId: 2 })} ${pos(5)}`,
          `patient-service patients ${keyText({ mrn: '9000001' })} ${pos(7)}`,
          `results-service admissions ${keyText({ admissionId: 1 })} ${pos(3)}`,
        ].sort(),
      );
      await rerunUpMigration(pool, path.join(all, '002_canonical-key-text.sql'));
      expect(await table()).toEqual(after);
    } finally {
      await pool.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
