/**
 * Two write-back jobs (two partitions, or two services) that update the same legacy rows in
 * opposite outbox orders: the writer locks a job's rows at once, in key order, so the second
 * waits for the first instead of each holding a row the other needs. Before, each update's row
 * was locked in outbox order: held up together behind a legacy session's locks, the two jobs
 * deadlocked once it let go (PostgreSQL aborted one: a failed try, and with its tries used up a
 * dead letter). On a real legacy database and Redis.
 *
 * A legacy session can still deadlock with a job (it takes the rows in another order): PostgreSQL
 * aborts the job's transaction, which is tried again in place, as before, but logged as what it
 * is, a conflict with another legacy session; before, as "the legacy database is not available",
 * and shown in the status as waiting for it, of a database that had just answered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScene, until, type Scene } from './support/cdc-scene.js';
import { startWriter, type WriterScene } from './support/writer-scene.js';

let s: Scene;
let w: WriterScene;

beforeAll(async () => {
  s = await startScene({ name: 'writeback_lock_order', seedPatients: 4 });
  w = await startWriter(s);
});
afterAll(async () => {
  await w?.close();
  await s?.close();
});

const city = async (mrn: string) => (await s.legacyPool.query<{ city_nm: string | null }>('SELECT city_nm FROM patient_master WHERE pat_mrn = $1', [mrn])).rows[0]?.city_nm;

describe('write-back of the same rows by two jobs at once', () => {
  it('takes the rows in one order: the jobs wait for each other, never deadlock', async () => {
    const [k1, k2] = (await s.legacyPool.query<{ pat_mrn: string }>('SELECT pat_mrn FROM patient_master ORDER BY pat_mrn LIMIT 2')).rows.map((r) => r.pat_mrn) as [string, string];
    const update = (mrn: string, to: string, id: number) => w.event('patients', 'update', { mrn }, { mrn, city: to }, id, { mrn, city: null });
    // a legacy screen's session holds both rows while the two jobs arrive
    const screen = await s.legacyPool.connect();
    try {
      await screen.query('BEGIN');
      await screen.query('SELECT 1 FROM patient_master WHERE pat_mrn = ANY($1) FOR UPDATE', [[k1, k2]]);
      await w.publish([update(k1, 'FIRST-A', 1), update(k2, 'FIRST-B', 2)], 0);
      await w.publish([update(k2, 'SECOND-B', 3), update(k1, 'SECOND-A', 4)], 1);
      // both jobs wait for a row lock the screen holds
      await until(
        async () => (await s.legacyPool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ficus-legacy-writer' AND wait_event_type = 'Lock'")).rows[0]!.n >= 2,
        'both write-back jobs waiting for the screen',
      );
      await screen.query('COMMIT');
    } finally {
      screen.release();
    }
    await until(async () => (await city(k1)) === 'SECOND-A' && (await city(k2)) === 'SECOND-B', 'the later job written');
    // whatever the first job left (skipped: older positions) is answered by now
    await until(() => w.outcomes.filter((o) => o.outcome === 'applied' || o.outcome === 'skipped').reduce((n, o) => n + o.count, 0) >= 4, 'both jobs answered');
    await sleep(200);
    expect(w.lines.filter((l) => /deadlock/i.test(JSON.stringify(l)))).toEqual([]);
    expect(w.outcomes.filter((o) => o.outcome === 'refused')).toEqual([]);
  });

  it('says a deadlock with a legacy session is one, not the legacy database away, and retries the job in place', async () => {
    const [k1, k2] = (await s.legacyPool.query<{ pat_mrn: string }>('SELECT pat_mrn FROM patient_master ORDER BY pat_mrn OFFSET 2 LIMIT 2')).rows.map((r) => r.pat_mrn) as [string, string];
    const update = (mrn: string, to: string, id: number) => w.event('patients', 'update', { mrn }, { mrn, city: to }, id, { mrn, city: null });
    const screen = await s.legacyPool.connect();
    try {
      await screen.query('BEGIN');
      // the screen never looks for the deadlock itself: the job's session (deadlock_timeout 1 s, the
      // default) finds it and is the one aborted
      await screen.query("SET LOCAL deadlock_timeout = '60s'");
      await screen.query('SELECT 1 FROM patient_master WHERE pat_mrn = $1 FOR UPDATE', [k2]);
      // the job locks k1, then waits for k2
      await w.publish([update(k1, 'CONFLICT-A', 11), update(k2, 'CONFLICT-B', 12)], 2);
      await until(
        async () => (await s.legacyPool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ficus-legacy-writer' AND wait_event_type = 'Lock'")).rows[0]!.n >= 1,
        'the job waiting for the screen',
      );
      // and the screen for k1: a deadlock
      await screen.query('SELECT 1 FROM patient_master WHERE pat_mrn = $1 FOR UPDATE', [k1]);
      await screen.query('COMMIT');
    } finally {
      screen.release();
    }
    await until(async () => (await city(k1)) === 'CONFLICT-A' && (await city(k2)) === 'CONFLICT-B', 'the job written at its next try');
    const conflict = w.lines.filter((l) => l.msg === 'write-back conflicted with another legacy session (deadlock/serialization): retried');
    expect(conflict).toHaveLength(1);
    expect(conflict[0]).toMatchObject({ level: 40, writebackService: s.service, partition: 2, err: expect.stringContaining('(40P01)') });
    expect(w.lines.filter((l) => /not available/.test(l.msg))).toEqual([]);
    expect(w.writer.status().services[0]!.waiting).toBeNull();
    expect(w.outcomes.filter((o) => o.outcome === 'refused')).toEqual([]);
  });
});
