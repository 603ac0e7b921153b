/**
 * An HL7 message in mode dual reaches the legacy (whose committed rows come back through CDC)
 * and the service (which makes an early, provisional copy): the two copies of one record must
 * end as one, whichever comes first and also when both are applied at the same moment. The
 * moment is made, not hoped for: a trigger holds the service's HL7 transaction right after it
 * wrote its provisional copy, until the legacy's copy has been sent through CDC. (Seen on the
 * demo before the fix: a laboratory result listed twice by results-service.)
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let client: MllpClient;
let seeded: string[];

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_early', redisDb: 5, patients: 40, seed: 5_151, hl7Inbound: true, provisionalCheckMs: 1_000 });
  await scene.cdc.snapshot();
  await scene.drain();
  client = await MllpClient.connect(scene.inbound!.port);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 20`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  client?.close();
  await scene?.close();
});

/** MSH-7 a minute ahead of the legacy's commits (see hl7-parity.test.ts) */
const sent = () => hl7Time(new Date(Date.now() + 60_000));
const pid = (mrn: string) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR` });
const oru = (mrn: string, order: string) =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: sent() }),
    pid(mrn),
    segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'LIPID^LIPID PANEL', 7: '20241001090000', 22: '20241001101500' }),
    segment('OBX', { 1: '1', 2: 'NM', 3: '2093-3^CHOLESTEROL^LN', 5: '212', 6: 'mg/dL', 7: '<200', 8: 'H', 11: 'F' }),
    segment('OBX', { 1: '2', 2: 'ST', 3: '2089-1^LDL COMMENT^LN', 5: 'High \\T\\ rising', 11: 'F' }),
  );
const adt = (event: string, ...segments: string[]) => hl7(msh(`ADT^${event}^ADT_${event}`, uniqueControlId(event), { time: sent() }), `EVN|${event}|${sent()}`, ...segments);
const a40 = (survivor: string, merged: string) => adt('A40', pid(survivor), segment('MRG', { 1: `${merged}^^^GENHOSP^MR` }));
/** results-service's rows of an order (two tests each), oldest first */
const resultCopies = async (order: string) =>
  (await scene.results.pool.query<{ mrn: string; provisional: boolean }>('SELECT mrn, provisional FROM lab_result WHERE order_number = $1 ORDER BY id', [order])).rows;
const bothUnder = (mrn: string, provisional: boolean) => [
  { mrn, provisional },
  { mrn, provisional },
];

/** the legacy's changes so far through CDC, and everything the services were sent, applied */
async function settle(): Promise<void> {
  await scene.cdc.sync();
  await scene.drain();
}

/**
 * patient-service merges `merged` into `survivor` first, then `early` reaches `service` (which
 * follows that merge) and the legacy (which files it under the merged patient, as it has not
 * merged yet); then the legacy merges too.
 */
async function serviceMergedFirst(survivor: string, merged: string, early: string, service: 'patient-service' | 'results-service'): Promise<void> {
  const merge = a40(survivor, merged);
  await scene.sendHl7('patient-service', merge);
  await scene.drain();
  await scene.sendHl7(service, early);
  await scene.drain();
  await toLegacy(early);
  await settle();
  await toLegacy(merge);
  await settle();
}

async function toLegacy(message: string): Promise<void> {
  const ack = await client.request(message);
  expect(ack.code, `legacy ACK ${ack.errorCodes.join(',')}`).toBe('AA');
}

async function sameAnswers(base: string, path: string): Promise<void> {
  const [legacy, service] = await Promise.all([ask(scene.legacy.base, path), ask(base, path)]);
  expect(JSON.parse(service.body)).toEqual(JSON.parse(legacy.body));
}

/**
 * Holds every transaction that inserts a provisional row into `table` right after the insert,
 * until `release` (a trigger waits for an advisory lock this session holds).
 */
async function holdProvisionalInserts(pool: pg.Pool, table: string): Promise<{ release: () => Promise<void> }> {
  const KEY = 7_117;
  await pool.query(`CREATE OR REPLACE FUNCTION test_hold_provisional() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN PERFORM pg_advisory_xact_lock_shared(${KEY}); RETURN NULL; END $$`);
  await pool.query(`CREATE TRIGGER test_hold AFTER INSERT ON ${table} FOR EACH ROW WHEN (NEW.provisional) EXECUTE FUNCTION test_hold_provisional()`);
  const holder = await pool.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [KEY]);
  return {
    async release() {
      await holder.query('SELECT pg_advisory_unlock($1)', [KEY]);
      holder.release();
      await pool.query(`DROP TRIGGER test_hold ON ${table}`);
    },
  };
}

/** how many sessions of the pool's database wait for an advisory lock */
async function waitingForAdvisory(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
  );
  return Number(rows[0]!.n);
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('while the legacy is the system of record', () => {
  it('a result applied from HL7 and from CDC at the same moment is kept once, under the legacy id', async () => {
    const mrn = seeded[0]!;
    const order = `E${Date.now() % 1_000_000}`;
    const message = oru(mrn, order);
    const pool = scene.results.pool;
    const hold = await holdProvisionalInserts(pool, 'lab_result');
    try {
      await scene.sendHl7('results-service', message);
      // the service's transaction wrote its provisional copy and waits, uncommitted
      await until('the HL7 transaction to hold', async () => (await waitingForAdvisory(pool)) >= 1);
      await toLegacy(message);
      await scene.cdc.sync(['lab-results']);
      // the legacy's copy is applied (it did not see the uncommitted early copy), or waits for it
      await until('the CDC change to be applied or to wait', async () => {
        const legacyRow = await pool.query('SELECT 1 FROM lab_result WHERE order_number = $1 AND NOT provisional', [order]);
        return (legacyRow.rowCount ?? 0) > 0 || (await waitingForAdvisory(pool)) >= 2;
      });
    } finally {
      await hold.release();
    }
    await scene.drain();
    const { rows } = await pool.query<{ id: string; provisional: boolean }>('SELECT id, provisional FROM lab_result WHERE order_number = $1 ORDER BY id', [order]);
    const legacyIds = await scene.legacy.pool.query<{ result_id: string }>('SELECT RESULT_ID::text AS result_id FROM LAB_RESULT WHERE ORDER_NO = $1 ORDER BY RESULT_ID', [order]);
    expect(legacyIds.rows).toHaveLength(2);
    expect(rows).toEqual(legacyIds.rows.map((r) => ({ id: r.result_id, provisional: false })));
    await sameAnswers(scene.results.url, `/api/results?mrn=${mrn}`);
  });

  it('a stay without a visit number applied from HL7 and from CDC at the same moment is kept once', async () => {
    const mrn = seeded[1]!;
    const message = adt('A01', pid(mrn), segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^12^A', 44: '20241002081500' }));
    const pool = scene.patients.pool;
    const hold = await holdProvisionalInserts(pool, 'encounter');
    try {
      await scene.sendHl7('patient-service', message);
      await until('the HL7 transaction to hold', async () => (await waitingForAdvisory(pool)) >= 1);
      await toLegacy(message);
      await scene.cdc.sync(['admissions']);
      await until('the CDC change to be applied or to wait', async () => {
        const legacyRow = await pool.query("SELECT 1 FROM encounter WHERE mrn = $1 AND admitted_at = '2024-10-02 08:15:00' AND NOT provisional", [mrn]);
        return (legacyRow.rowCount ?? 0) > 0 || (await waitingForAdvisory(pool)) >= 2;
      });
    } finally {
      await hold.release();
    }
    await scene.cdc.sync();
    await scene.drain();
    const stays = await pool.query("SELECT id FROM encounter WHERE mrn = $1 AND admitted_at = '2024-10-02 08:15:00'", [mrn]);
    expect(stays.rows).toHaveLength(1);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${mrn}`);
  });
});

describe("the legacy's copy first, the service's HL7 message late", () => {
  it('a stay without a visit number is that stay, not a second one', async () => {
    const mrn = seeded[2]!;
    const message = adt('A01', pid(mrn), segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^14^B', 44: '20241003091500' }));
    await toLegacy(message);
    await scene.cdc.sync();
    await scene.drain();
    await scene.sendHl7('patient-service', message);
    await scene.drain();
    const stays = await scene.patients.pool.query<{ provisional: boolean }>("SELECT provisional FROM encounter WHERE mrn = $1 AND admitted_at = '2024-10-03 09:15:00'", [mrn]);
    expect(stays.rows).toEqual([{ provisional: false }]);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${mrn}`);
  });

  it('a merge is recorded once', async () => {
    const [survivor, merged] = [seeded[3]!, seeded[4]!];
    const message = a40(survivor, merged);
    await toLegacy(message);
    await scene.cdc.sync();
    await scene.drain();
    await scene.sendHl7('patient-service', message);
    await scene.drain();
    const merges = await scene.patients.pool.query<{ provisional: boolean }>('SELECT provisional FROM patient_merge WHERE merged_mrn = $1', [merged]);
    expect(merges.rows).toEqual([{ provisional: false }]);
    await sameAnswers(scene.patients.url, `/api/patients/${merged}`);
  });
});

describe('a result for a patient the legacy has merged away, the merge not yet in the services', () => {
  it('is kept once, under the survivor, on both sides', async () => {
    const [survivor, merged] = [seeded[5]!, seeded[6]!];
    const merge = a40(survivor, merged);
    // the legacy applies the merge; patient-service's copy of the A40 is still in its queue
    await toLegacy(merge);
    const order = `M${Date.now() % 1_000_000}`;
    const result = oru(merged, order);
    // the legacy follows its merge (the survivor's result); results-service still knows the merged patient
    await toLegacy(result);
    await scene.sendHl7('results-service', result);
    await scene.drain();
    await scene.sendHl7('patient-service', merge);
    await scene.drain();
    await settle();
    // results-service learns of the merge from patient-service on its next look at provisional results
    const copies = () => resultCopies(order);
    await until('the early copy to follow the merge', async () => (await copies()).every((r) => r.mrn === survivor), 10_000);
    const rows = await copies();
    expect(rows).toEqual(bothUnder(survivor, false));
    await sameAnswers(scene.results.url, `/api/results?mrn=${survivor}`);
    await sameAnswers(scene.results.url, `/api/results?mrn=${merged}`);
  });

  it('an early copy whose legacy copy has not come yet moves to the survivor, and the legacy copy then takes it', async () => {
    const [survivor, merged] = [seeded[7]!, seeded[8]!];
    const order = `N${Date.now() % 1_000_000}`;
    const result = oru(merged, order);
    await scene.sendHl7('results-service', result);
    await scene.drain();
    const merge = a40(survivor, merged);
    await toLegacy(merge);
    await scene.sendHl7('patient-service', merge);
    await scene.drain();
    const copies = () => resultCopies(order);
    await until('the early copy to follow the merge', async () => (await copies()).every((r) => r.mrn === survivor), 10_000);
    expect(await copies()).toEqual(bothUnder(survivor, true));
    // the legacy gets the result late (its interface was down): it follows its merge, and its copy takes the early one
    await toLegacy(result);
    await settle();
    expect(await copies()).toEqual(bothUnder(survivor, false));
    await sameAnswers(scene.results.url, `/api/results?mrn=${survivor}`);
    await sameAnswers(scene.results.url, `/api/results?mrn=${merged}`);
  });
});

describe('a message for a patient the legacy has merged away, the merge not yet in patient-service', () => {
  /** the legacy merges `merged` into `survivor`; `early` reaches the legacy and patient-service before patient-service hears of the merge */
  async function mergeOvertaken(survivor: string, merged: string, early: string, cdcBeforeMerge: boolean): Promise<void> {
    const merge = a40(survivor, merged);
    await toLegacy(merge);
    await toLegacy(early);
    await scene.sendHl7('patient-service', early);
    await scene.drain();
    if (cdcBeforeMerge) {
      await settle();
    }
    await scene.sendHl7('patient-service', merge);
    await scene.drain();
    await settle();
  }
  const admission = (mrn: string, visitNumber = '', admitted = '20241005081500') => adt('A01', pid(mrn), segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^12^A', 19: visitNumber, 44: admitted }));
  /** one stay admitted at `admitted` under the survivor, the legacy's; both patients' stays as in the legacy */
  async function oneStayUnderSurvivor(survivor: string, merged: string, admitted: string): Promise<void> {
    const stays = await scene.patients.pool.query<{ provisional: boolean }>('SELECT provisional FROM encounter WHERE mrn = $1 AND admitted_at = $2', [survivor, admitted]);
    expect(stays.rows).toEqual([{ provisional: false }]);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${survivor}`);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${merged}`);
  }

  it('an admission without a visit number, its legacy copy through CDC before the merge: one stay under the survivor', async () => {
    const [survivor, merged] = [seeded[9]!, seeded[10]!];
    await mergeOvertaken(survivor, merged, admission(merged), true);
    await oneStayUnderSurvivor(survivor, merged, '2024-10-05 08:15:00');
  });

  it('an admission without a visit number, the merge first; and one with a visit number: as in the legacy', async () => {
    const [survivor, merged] = [seeded[11]!, seeded[12]!];
    await mergeOvertaken(survivor, merged, admission(merged), false);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${survivor}`);
    const [survivor2, merged2] = [seeded[13]!, seeded[14]!];
    await mergeOvertaken(survivor2, merged2, admission(merged2, `VM${merged2}`), true);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${survivor2}`);
    await sameAnswers(scene.patients.url, `/api/encounters?mrn=${merged2}`);
  });

  it('an admission without a visit number, patient-service merged first: one stay under the survivor when the legacy merges too', async () => {
    const [survivor, merged] = [seeded[18]!, seeded[19]!];
    await serviceMergedFirst(survivor, merged, admission(merged, '', '20241006081500'), 'patient-service');
    await oneStayUnderSurvivor(survivor, merged, '2024-10-06 08:15:00');
  });

  it('an update of the demographics: both records as in the legacy', async () => {
    const [survivor, merged] = [seeded[15]!, seeded[0]!];
    const update = adt('A08', segment('PID', { 1: '1', 3: `${merged}^^^GENHOSP^MR`, 5: 'ZZRENAMED^QQNEW', 7: '19700101', 8: 'F' }), segment('PV1', { 1: '1', 2: 'O' }));
    await mergeOvertaken(survivor, merged, update, false);
    await sameAnswers(scene.patients.url, `/api/patients/${survivor}`);
    await sameAnswers(scene.patients.url, `/api/patients/${merged}`);
  });
});

describe('a result for a patient merged in patient-service before the legacy merged them', () => {
  it('is kept once, under the survivor: the legacy files it under the merged patient, then its merge moves it', async () => {
    const [survivor, merged] = [seeded[16]!, seeded[17]!];
    const order = `R${Date.now() % 1_000_000}`;
    await serviceMergedFirst(survivor, merged, oru(merged, order), 'results-service');
    expect(await resultCopies(order)).toEqual(bothUnder(survivor, false));
    await sameAnswers(scene.results.url, `/api/results?mrn=${survivor}`);
    await sameAnswers(scene.results.url, `/api/results?mrn=${merged}`);
  });
});
