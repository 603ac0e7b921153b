/**
 * A patient merge written back is recorded as the legacy records its own ADT^A40 (the shipped
 * mapping's `writeBackMerge`), on a real legacy database with the CDC reader running:
 *
 * - the merge as patient-service sends it (no result count: it holds no results) is written,
 *   in one transaction with the moves of the merged-away patient's stays and results to the
 *   survivor, the counts the legacy keeps filled in; before 2026-12-07 it was a dead letter
 *   (`null value in column "result_cnt"`) and the results stayed on the merged-away patient;
 * - the capture passes the results' move on as the legacy's own change (results-service did not
 *   write it and must learn it), the merge's row and the stays' move as the write-back they are;
 * - a redelivered merge moves nothing again; the service's own moves of the stays, arriving
 *   after it through other partitions, are written as usual;
 * - a result written back under the merged-away patient after the merge (filed by
 *   results-service before it heard of the merge) follows the merge, as the legacy's inbound
 *   files a message naming a merged-away MRN, and results-service learns it from the capture.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, deadLetterQueueName, WRITEBACK_ORIGIN, writebackQueuePrefix } from '@ficus/contracts/queues';
import { startScene, until, type CdcProcess, type Scene } from './support/cdc-scene.js';
import { PARTITIONS, startWriter, type WriterScene } from './support/writer-scene.js';

let s: Scene;
let cdc: CdcProcess;
let w: WriterScene;
let survivor: string;
let merged: string;
let stays: number[];
let results: string[];

const ids = async (sql: string, mrn: string) => (await s.legacyPool.query<{ id: string | number }>(sql, [mrn])).rows.map((r) => r.id);
const staysOf = async (mrn: string) => (await ids('SELECT adm_id AS id FROM admission WHERE pat_mrn = $1 ORDER BY adm_id', mrn)) as number[];
const resultsOf = async (mrn: string) => (await ids('SELECT result_id::text AS id FROM lab_result WHERE pat_mrn = $1 ORDER BY result_id', mrn)) as string[];
const mergesOf = async (mrn: string) =>
  (await s.legacyPool.query<{ survivor_mrn: string; adm_cnt: number; result_cnt: number; control_id: string }>('SELECT survivor_mrn, adm_cnt, result_cnt, control_id FROM patient_merge WHERE merged_mrn = $1', [mrn])).rows;

/** what the capture put on a topic's queues (no consumer takes them here) */
async function captured(topic: string): Promise<ChangeEvent[]> {
  const all: ChangeEvent[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(s.topic(topic)), p), { connection: s.redis });
    for (const j of await q.getJobs(['waiting'], 0, -1, true)) all.push(...j.data.events.filter((e) => e.op !== 'snapshot'));
    await q.close();
  }
  return all;
}
/** the write-back's dead letters: their reasons */
async function deadLetters(): Promise<string[]> {
  const reasons: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue<{ error: string }>(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), p)), { connection: s.redis });
    reasons.push(...(await q.getJobs(['waiting'])).map((j) => j.data.error));
    await q.close();
  }
  return reasons;
}
const outcomesOf = (topic: string) => w.outcomes.filter((o) => o.topic === s.topic(topic));
/** the merge row as patient-service's outbox carries it (outbox-seam.ts: result_count is null there) */
const mergeRow = (mergeId: number, admissionCount: number) => ({
  mergeId,
  survivorMrn: survivor,
  mergedMrn: merged,
  admissionCount,
  resultCount: null,
  sendingFacility: 'NORTHCAMPUS',
  controlId: 'NC-N-0005',
  mergedAt: '2026-12-07T23:40:00',
});

beforeAll(async () => {
  s = await startScene({ name: 'writeback_merge', seedPatients: 12 });
  cdc = await s.start({ CDC_WRITEBACK_SERVICES: '' }); // the capture only: the writer runs here
  w = await startWriter(s);
  // a merged-away patient with stays and results, and a survivor
  const { rows } = await s.legacyPool.query<{ pat_mrn: string }>(
    `SELECT p.pat_mrn FROM patient_master p
      WHERE EXISTS (SELECT 1 FROM admission a WHERE a.pat_mrn = p.pat_mrn) AND EXISTS (SELECT 1 FROM lab_result r WHERE r.pat_mrn = p.pat_mrn)
      ORDER BY p.pat_mrn LIMIT 2`,
  );
  [survivor, merged] = rows.map((r) => r.pat_mrn) as [string, string];
  stays = await staysOf(merged);
  results = await resultsOf(merged);
  expect(stays.length).toBeGreaterThan(0);
  expect(results.length).toBeGreaterThan(0);
});
afterAll(async () => {
  await w?.close();
  await cdc?.stop();
  await s?.close();
});

describe('a merge written back', () => {
  it('is recorded as the legacy records its own A40: stays and results moved to the survivor, the counts filled in, no dead letter', async () => {
    const survivorResults = await resultsOf(survivor);
    // the merge first: the stays' own moves come through other partitions, later
    await w.publish([w.event('patient-merges', 'create', { mergeId: 1_000_000_001 }, mergeRow(1_000_000_001, stays.length), 10)]);
    await until(() => (outcomesOf('patient-merges').length > 0 ? true : undefined), 'the merge written back or refused');
    expect(await deadLetters()).toEqual([]);
    expect(outcomesOf('patient-merges')).toEqual([expect.objectContaining({ outcome: 'applied', count: 1 })]);

    expect(await mergesOf(merged)).toEqual([{ survivor_mrn: survivor, adm_cnt: stays.length, result_cnt: results.length, control_id: 'NC-N-0005' }]);
    expect(await staysOf(merged)).toEqual([]);
    expect(await resultsOf(merged)).toEqual([]);
    expect(await resultsOf(survivor)).toEqual([...survivorResults, ...results].sort((a, b) => Number(a) - Number(b)));
  });

  it('reaches the capture: the results\' move as the legacy\'s own change, the merge and the stays\' move as write-back', async () => {
    const moves = await until(async () => {
      const got = (await captured('lab-results')).filter((e) => results.includes(String(e.key.resultId)));
      return got.length === results.length ? got : undefined;
    }, 'the results\' move captured');
    for (const e of moves) {
      expect(e).toMatchObject({ op: 'update', before: { mrn: merged }, after: { mrn: survivor } });
      expect(e.source.origin).toBeNull();
    }
    const stayMoves = await until(async () => {
      const got = (await captured('admissions')).filter((e) => stays.includes(Number(e.key.admissionId)));
      return got.length === stays.length ? got : undefined;
    }, 'the stays\' move captured');
    for (const e of stayMoves) expect(e).toMatchObject({ op: 'update', after: { mrn: survivor }, source: { origin: WRITEBACK_ORIGIN } });
    const [record] = await until(async () => {
      const got = (await captured('patient-merges')).filter((e) => e.key.mergeId === 1_000_000_001);
      return got.length > 0 ? got : undefined;
    }, 'the merge captured');
    expect(record).toMatchObject({ op: 'create', after: { survivorMrn: survivor, mergedMrn: merged, resultCount: results.length }, source: { origin: WRITEBACK_ORIGIN } });
    // one writer transaction, counted once as an echo
    const metrics = await (await fetch(`${cdc.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_cdc_writeback_echo_transactions_total\{source="legacy-pg"\} 1\b/);
  });

  it('moves nothing again when redelivered; the service\'s own moves of the stays, arriving later, are written as usual', async () => {
    await w.publish([w.event('patient-merges', 'create', { mergeId: 1_000_000_001 }, mergeRow(1_000_000_001, stays.length), 10)]);
    await until(() => (outcomesOf('patient-merges').some((o) => o.outcome === 'skipped') ? true : undefined), 'the redelivery skipped');
    // a result filed under the merged-away MRN since (a legacy screen) stays where it was put
    const { rows } = await s.legacyPool.query<{ id: string }>(
      `INSERT INTO lab_result (pat_mrn, order_no, test_cd, test_nm, result_val, result_stat_cd, collect_dt) VALUES ($1, 'LATE1', 'K', 'POTASSIUM', '4.0', 'F', LOCALTIMESTAMP(0)) RETURNING result_id::text AS id`,
      [merged],
    );
    for (const [i, id] of stays.entries()) {
      const stay = { admissionId: id, mrn: survivor };
      await w.publish([w.event('admissions', 'update', { admissionId: id }, stay, 20 + i, { admissionId: id, mrn: merged })]);
    }
    await until(() => (outcomesOf('admissions').reduce((n, o) => n + o.count, 0) >= stays.length ? true : undefined), 'the stays\' events');
    expect(await deadLetters()).toEqual([]);
    expect(await mergesOf(merged)).toHaveLength(1);
    expect(await resultsOf(merged)).toEqual([rows[0]!.id]);
    expect(await staysOf(survivor)).toEqual(expect.arrayContaining(stays));
  });

  it('a result written back later under the merged-away patient is filed under the survivor, as the legacy\'s inbound would, and the capture says so as the legacy\'s own change', async () => {
    // results-service filed it before patient-service's merge reached it; its write-back lands after the merge's
    const late = { resultId: '900000000001', mrn: merged, admissionId: null, orderNumber: 'LATE2', testCode: 'LAC', testName: 'LACTATE', value: '4.4', units: 'mmol/L', abnormalFlag: 'H', status: 'F', collectedDate: '2026-12-07T23:00:00', lastUpdated: '2026-12-07T23:01:00' };
    await w.publish([w.event('lab-results', 'create', { resultId: late.resultId }, late, 40)]);
    await until(async () => ((await resultsOf(survivor)).includes(late.resultId) ? true : undefined), 'the late result under the survivor');
    expect(await deadLetters()).toEqual([]);
    const changes = await until(async () => {
      const got = (await captured('lab-results')).filter((e) => e.key.resultId === late.resultId);
      return got.length === 2 ? got : undefined;
    }, 'the late result captured');
    expect(changes.map((e) => [e.op, e.after?.mrn, e.source.origin])).toEqual([
      ['create', merged, WRITEBACK_ORIGIN],
      ['update', survivor, null],
    ]);
  });

  it('a merge already recorded keeps the legacy\'s counts where the service sends none', async () => {
    await w.publish([w.event('patient-merges', 'update', { mergeId: 1_000_000_001 }, { ...mergeRow(1_000_000_001, stays.length), controlId: 'NC-N-0005B' }, 30)]);
    await until(async () => ((await mergesOf(merged))[0]?.control_id === 'NC-N-0005B' ? true : undefined), 'the update written');
    expect(await mergesOf(merged)).toEqual([{ survivor_mrn: survivor, adm_cnt: stays.length, result_cnt: results.length, control_id: 'NC-N-0005B' }]);
    expect(await deadLetters()).toEqual([]);
  });
});
