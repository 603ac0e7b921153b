/**
 * No change is lost when the reader dies: the CDC process is killed with SIGKILL in the middle
 * of a bounded write load on the legacy tables (and, separately, in the middle of its
 * snapshot), started again, and a target database fed by `startChangeConsumer` ends equal to
 * the source, table by table, by row count and checksum. What was enqueued twice (read again
 * from the last acknowledged position) changes nothing.
 */
import { createLogger } from '@ficus/contracts';
import type { PartitionedConsumer } from '@ficus/contracts/queues';
import type { ChangeBatch } from '@ficus/contracts';
import type pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTarget, compareTopic, startTargetConsumers } from '../../../test-support/cdc-target.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { boundedLoad } from '../../../test-support/legacy-load.js';
import { startScene, until, VIEWER_TOKEN, type Scene } from './support/cdc-scene.js';
import { inject } from 'vitest';

const log = createLogger('cdc-crash-test', { level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function withTarget(s: Scene): Promise<{ target: pg.Pool; consumers: PartitionedConsumer<ChangeBatch>[]; stats: { applied: number; skipped: number } }> {
  const db: TestDatabase = await createTestDatabase(inject('databaseUrl'), 'cdc_crash_target');
  const target = await createTarget(s.legacyPool, db.url, s.topics);
  const stats = { applied: 0, skipped: 0 };
  const consumers = await startTargetConsumers({
    connection: s.redis,
    pool: target,
    topics: s.topics,
    partitions: 8,
    log,
    applied: (r) => {
      stats.applied += r.applied.length;
      stats.skipped += r.skipped;
    },
  });
  cleanups.push(async () => {
    await Promise.all(consumers.map((c) => c.close()));
    await target.end();
    await db.drop();
  });
  return { target, consumers, stats };
}

async function converged(s: Scene, target: pg.Pool): Promise<void> {
  const diff = async () => {
    for (const t of s.topics) {
      const c = await compareTopic(s.legacyPool, target, t);
      if (c.source.rows !== c.target.rows || c.source.md5 !== c.target.md5) return `${t.topic}: source ${c.source.rows} rows, target ${c.target.rows}`;
    }
    return undefined;
  };
  let last: string | undefined;
  await until(async () => (last = await diff()) === undefined, 'the target to equal the source', 60_000).catch((e: Error) => {
    throw new Error(`${e.message} (${last})`);
  });
  for (const t of s.topics) {
    const c = await compareTopic(s.legacyPool, target, t);
    expect(c.target, t.topic).toEqual(c.source);
  }
}

const statusOf = async (url: string) =>
  ((await (await fetch(`${url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).json()) as { sources: { state: string }[] }).sources[0]!;

describe('kill -9 of the reader', () => {
  it('during a write load: after a restart the target equals the source', async () => {
    const s = await startScene({ name: 'crash', seedPatients: 60 });
    cleanups.push(() => s.close());
    const { target } = await withTarget(s);
    const first = await s.start();
    let committed = 0;
    const load = boundedLoad(s.legacyPool, { transactions: 600, concurrency: 3, rows: 4, stop: () => false }).then((n) => (committed = n));
    // kill it while the load runs and after it has streamed some of it
    await until(async () => {
      const r = await s.legacyPool.query<{ n: number }>("SELECT count(*)::int AS n FROM lab_result WHERE order_no LIKE 'L%'");
      return r.rows[0]!.n > 600;
    }, 'a part of the load');
    await first.kill9();
    const midway = (await s.legacyPool.query<{ n: number }>("SELECT count(*)::int AS n FROM lab_result WHERE order_no LIKE 'L%'")).rows[0]!.n;
    const second = await s.start();
    await load;
    expect(committed).toBe(600);
    expect(midway).toBeLessThan(600 * 4); // it died mid-load, not after
    await converged(s, target);
    // it resumed from the slot: no second snapshot
    expect((await statusOf(second.url)).state).toBe('streaming');
    expect(await (await fetch(`${second.url}/metrics`)).text()).not.toMatch(/ficus_cdc_changes_read_total\{[^}]*op="snapshot"\} [1-9]/);
    await second.stop();
  });

  it('during the snapshot: the snapshot is taken again, not skipped', async () => {
    const s = await startScene({ name: 'crash_snap', seedPatients: 300 });
    cleanups.push(() => s.close());
    // a slow snapshot: small fetches and little room in memory
    const slow = { CDC_SNAPSHOT_FETCH_ROWS: '20', CDC_MAX_HELD_EVENTS: '100', CDC_MAX_EVENTS_PER_JOB: '20' };
    const first = await s.start(slow, { waitReady: false });
    await until(async () => {
      try {
        return (await statusOf(first.url)).state === 'snapshot';
      } catch {
        return false;
      }
    }, 'the snapshot to start');
    await first.kill9();
    const { target } = await withTarget(s);
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'AFTER THE CRASH' WHERE PAT_MRN = '100002'");
    const second = await s.start();
    await converged(s, target);
    expect((await target.query<{ city: string }>(`SELECT "city" FROM "t_patients_${s.id}" WHERE "mrn" = '100002'`)).rows[0]!.city).toBe('AFTER THE CRASH');
    await second.stop();
  });
});
