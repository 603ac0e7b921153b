/**
 * The PostgreSQL source end to end, as a real process on a real legacy database and Redis:
 * the snapshot at the slot's start, then inserts, updates, deletes, a multi-row transaction,
 * NULLs, unicode, a large (TOASTed) value left unchanged by an update, a changed key, and the
 * values in the envelope's forms, read back from the queues in source order with their
 * before and after rows.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePositions, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import { startScene, until, VIEWER_TOKEN, type CdcProcess, type Scene } from './support/cdc-scene.js';

let s: Scene;
let cdc: CdcProcess;

const NOTE_TABLE = `
  CREATE TABLE CLINICAL_NOTE (
    NOTE_ID   BIGINT PRIMARY KEY,
    PAT_MRN   VARCHAR(10),
    NOTE_TXT  TEXT,
    AMOUNT    NUMERIC(12, 4),
    TAKEN_AT  TIMESTAMPTZ,
    SEEN_DT   DATE,
    IS_FINAL  BOOLEAN,
    PAYLOAD   JSONB,
    SCORE     DOUBLE PRECISION
  );
  ALTER TABLE CLINICAL_NOTE REPLICA IDENTITY FULL;
  INSERT INTO CLINICAL_NOTE VALUES (1, '100001', 'snapshot note', 1.5, '2024-07-01 08:00:00+02', '2024-07-01', true, '{"a": [1, 2]}', 0.25);`;

async function eventsOf(topic: string): Promise<ChangeEvent[]> {
  const all: ChangeEvent[] = [];
  for (let p = 0; p < 8; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), p), { connection: s.redis });
    const jobs = await q.getJobs(['waiting'], 0, -1, true);
    for (const j of jobs) all.push(...j.data.events);
    await q.close();
  }
  return all.sort((a, b) => comparePositions(a.source.position, b.source.position));
}

beforeAll(async () => {
  s = await startScene({
    name: 'changes',
    seedPatients: 20,
    legacySql: NOTE_TABLE,
    mapping: (topics) => [
      ...topics,
      {
        topic: s_id(topics) ? `notes-${s_id(topics)}` : 'notes',
        table: 'CLINICAL_NOTE',
        key: ['noteId'],
        fields: { noteId: 'NOTE_ID', mrn: 'PAT_MRN', text: 'NOTE_TXT', amount: 'AMOUNT', takenAt: 'TAKEN_AT', seen: 'SEEN_DT', final: 'IS_FINAL', payload: 'PAYLOAD', score: 'SCORE' },
      },
    ],
  });
  cdc = await s.start();
});
afterAll(async () => {
  await s?.close();
});

/** the scene's suffix, read from a suffixed topic name */
function s_id(topics: { topic: string }[]): string {
  return topics[0]!.topic.split('-').pop()!;
}

describe('PostgreSQL source', () => {
  it('enqueues a snapshot of every mapped table, consistent with the slot, as snapshot events', async () => {
    const counts = await s.legacyPool.query<{ p: number; a: number; r: number; w: number }>(
      'SELECT (SELECT count(*) FROM patient_master)::int AS p, (SELECT count(*) FROM admission)::int AS a, (SELECT count(*) FROM lab_result)::int AS r, (SELECT count(*) FROM ward)::int AS w',
    );
    const c = counts.rows[0]!;
    const patients = await until(async () => {
      const e = await eventsOf(s.topic('patients'));
      return e.length === c.p && e;
    }, 'the patients snapshot');
    expect(patients.every((e) => e.op === 'snapshot' && e.before === null && e.source.position.endsWith('/00000000'))).toBe(true);
    expect((await eventsOf(s.topic('admissions'))).length).toBe(c.a);
    expect((await eventsOf(s.topic('lab-results'))).length).toBe(c.r);
    expect((await eventsOf(s.topic('wards'))).length).toBe(c.w);
    const first = (await s.legacyPool.query<{ pat_mrn: string; pat_dob: string; create_dt: string }>("SELECT pat_mrn, to_char(pat_dob, 'YYYY-MM-DD') AS pat_dob, to_char(create_dt, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS create_dt FROM patient_master ORDER BY pat_mrn LIMIT 1")).rows[0]!;
    const e = patients.find((x) => x.key.mrn === first.pat_mrn)!;
    expect(e.after).toMatchObject({ mrn: first.pat_mrn, dateOfBirth: first.pat_dob, created: first.create_dt });
    expect(Object.keys(e.after!)).not.toContain('patId');
    expect(e.source).toMatchObject({ system: 'postgres', name: 'legacy-pg', database: s.legacy.name, schema: 'public', table: 'patient_master', txId: null, origin: null });
    const note = (await eventsOf(s.topic('notes')))[0]!;
    expect(note.after).toEqual({ noteId: '1', mrn: '100001', text: 'snapshot note', amount: '1.5000', takenAt: '2024-07-01T06:00:00+00:00', seen: '2024-07-01', final: true, payload: { a: [1, 2] }, score: 0.25 });
  });

  it('streams inserts, updates, deletes and multi-row transactions in order, with before and after', async () => {
    const big = 'Ωμέγα 患者 🚑 '.repeat(60_000); // about 1 MB: stored out of line (TOAST)
    const db = s.legacyPool;
    await db.query(`INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, CITY_NM, LAST_UPD_USER)
                    VALUES ('900001', 'ÑÚÑEZ-Ø''BRIEN', 'ZOË', NULL, DATE '1980-02-29', 'F', NULL, 'TESTER')`);
    await db.query("UPDATE PATIENT_MASTER SET CITY_NM = 'SPRINGFIELD', LAST_UPD_DT = TIMESTAMP '2024-07-02 10:11:12' WHERE PAT_MRN = '900001'");
    // one transaction, three tables
    const client = await db.connect();
    await client.query('BEGIN');
    const adm = await client.query<{ adm_id: number }>("INSERT INTO ADMISSION (PAT_MRN, ADM_DT, WARD_CD, ADM_TYPE_CD) VALUES ('900001', TIMESTAMP '2024-07-03 09:00', 'MED1', 'I') RETURNING ADM_ID");
    const admId = adm.rows[0]!.adm_id;
    await client.query(
      "INSERT INTO LAB_RESULT (PAT_MRN, ADM_ID, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, RESULT_STAT_CD, COLLECT_DT) VALUES ('900001', $1, 'ORD1', '2345-7', 'GLUCOSE', '5.4', 'P', TIMESTAMP '2024-07-03 09:30')",
      [admId],
    );
    await client.query("UPDATE PATIENT_MASTER SET MARITAL_CD = 'M' WHERE PAT_MRN = '900001'");
    await client.query('COMMIT');
    client.release();
    await db.query("UPDATE LAB_RESULT SET RESULT_STAT_CD = 'F', ABN_FLAG = 'H' WHERE ORDER_NO = 'ORD1'");
    await db.query("DELETE FROM LAB_RESULT WHERE ORDER_NO = 'ORD1'");
    await db.query("INSERT INTO CLINICAL_NOTE (NOTE_ID, PAT_MRN, NOTE_TXT, SCORE) VALUES (2, '900001', $1, 'NaN')", [big]);
    await db.query('UPDATE CLINICAL_NOTE SET IS_FINAL = false WHERE NOTE_ID = 2'); // the large value is not sent again
    await db.query('UPDATE CLINICAL_NOTE SET NOTE_ID = 3 WHERE NOTE_ID = 2'); // a changed key
    await db.query('DELETE FROM CLINICAL_NOTE WHERE NOTE_ID = 3');

    const streamed = (e: ChangeEvent) => e.op !== 'snapshot';
    const patients = await until(async () => {
      const e = (await eventsOf(s.topic('patients'))).filter(streamed);
      return e.length === 3 && e;
    }, 'three patient changes');
    expect(patients.map((e) => e.op)).toEqual(['create', 'update', 'update']);
    const [created, updated, married] = patients as [ChangeEvent, ChangeEvent, ChangeEvent];
    expect(created.before).toBeNull();
    expect(created.after).toMatchObject({ mrn: '900001', lastName: "ÑÚÑEZ-Ø'BRIEN", firstName: 'ZOË', middleName: null, dateOfBirth: '1980-02-29', city: null, active: 'Y', lastUpdatedBy: 'TESTER' });
    expect(updated.before).toEqual(created.after);
    expect(updated.after).toMatchObject({ city: 'SPRINGFIELD', lastUpdated: '2024-07-02T10:11:12' });
    expect(married.before).toEqual(updated.after);
    expect(married.after).toMatchObject({ maritalStatus: 'M', city: 'SPRINGFIELD' });
    expect(created.key).toEqual({ mrn: '900001' });
    for (const e of patients) expect(e.source.txId).toMatch(/^\d+$/);
    expect(new Date(created.source.commitTime!).getTime()).toBeGreaterThan(Date.now() - 120_000);

    // the transaction's three changes share its commit position, numbered in statement order
    const admissions = (await eventsOf(s.topic('admissions'))).filter(streamed);
    const results = await until(async () => {
      const e = (await eventsOf(s.topic('lab-results'))).filter(streamed);
      return e.length === 3 && e;
    }, 'three result changes');
    const txn = [admissions[0]!, results[0]!, married];
    expect(new Set(txn.map((e) => e.source.txId)).size).toBe(1);
    expect(txn.map((e) => e.source.position.split('/')[1])).toEqual(['00000001', '00000002', '00000003']);
    expect(new Set(txn.map((e) => e.source.position.split('/')[0])).size).toBe(1);
    expect(admissions[0]!.after).toMatchObject({ admissionId: admId, mrn: '900001', ward: 'MED1', dischargeDate: null, admitDate: '2024-07-03T09:00:00' });
    expect(results.map((e) => e.op)).toEqual(['create', 'update', 'delete']);
    expect(typeof results[0]!.key.resultId).toBe('string'); // bigint: every digit kept, as text
    expect(results[1]!.before).toMatchObject({ status: 'P', abnormalFlag: null });
    expect(results[1]!.after).toMatchObject({ status: 'F', abnormalFlag: 'H' });
    expect(results[2]!.after).toBeNull();
    expect(results[2]!.before).toEqual(results[1]!.after);
    expect(results[2]!.key).toEqual(results[0]!.key);

    const notes = await until(async () => {
      const e = (await eventsOf(s.topic('notes'))).filter(streamed);
      return e.length === 5 && e;
    }, 'five note changes');
    expect(notes.map((e) => [e.op, e.key.noteId])).toEqual([
      ['create', '2'],
      ['update', '2'],
      ['delete', '2'],
      ['create', '3'],
      ['delete', '3'],
    ]);
    expect(notes[0]!.after!.text).toBe(big);
    expect(notes[0]!.after!.score).toBe('NaN');
    expect(notes[1]!.after).toMatchObject({ text: big, final: false }); // filled from the old row
    expect(notes[3]!.after).toMatchObject({ noteId: '3', text: big });
    const positions = [...patients, ...notes].map((e) => e.source.position);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it('reports itself: /readyz with the slot lag, /metrics, and /api/cdc/status behind a viewer token', async () => {
    const ready = await fetch(`${cdc.url}/readyz`);
    const body = (await ready.json()) as { status: string; sources: { name: string; state: string; lagBytes: number | null }[] };
    expect(ready.status).toBe(200);
    expect(body.sources[0]).toMatchObject({ name: 'legacy-pg', state: 'streaming' });
    expect(typeof body.sources[0]!.lagBytes).toBe('number');

    expect((await fetch(`${cdc.url}/api/cdc/status`)).status).toBe(401);
    const res = await fetch(`${cdc.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
    expect(res.status).toBe(200);
    const status = (await res.json()) as { sources: Record<string, unknown>[]; topics: Record<string, { published: number }> };
    expect(Object.keys(status.sources[0]!)).toEqual(expect.arrayContaining(['name', 'kind', 'state', 'lagBytes', 'lagMs', 'lastPosition', 'lastCommitAt', 'changesPerSecond']));
    expect(status.sources[0]).toMatchObject({ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lastPosition: expect.stringMatching(/^[0-9A-F]{16}\/[0-9A-F]{8}$/) });
    expect(status.topics[s.topic('notes')]!.published).toBeGreaterThanOrEqual(6);

    const metrics = await (await fetch(`${cdc.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ficus_cdc_changes_published_total\\{source="legacy-pg",topic="${s.topic('notes')}"\\} \\d+`));
    expect(metrics).toMatch(/ficus_cdc_slot_lag_bytes\{source="legacy-pg"\} \d+/);
    expect(metrics).toMatch(/ficus_cdc_lag_seconds_count\{source="legacy-pg"\} [1-9]/);
  });
});
