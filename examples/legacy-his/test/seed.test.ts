import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { migrateLegacy, seedLegacy } from '../src/index.js';
import { sqlValue } from '../../../test-support/legacy-his.js';

/** one md5 over every row of every table, in primary-key order */
async function checksum(pool: pg.Pool): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  const tables = [['patient_master', 'pat_id'], ['admission', 'adm_id'], ['lab_result', 'result_id'], ['ward', 'ward_cd']] as const;
  for (const [table, key] of tables) {
    sums[table] = await sqlValue<string>(pool, `SELECT md5(string_agg(t::text, E'\\n' ORDER BY t.${key})) AS v FROM ${table} t`);
  }
  return sums;
}

describe('synthetic seed', () => {
  const dbs: TestDatabase[] = [];
  const pools: pg.Pool[] = [];

  async function freshDatabase(): Promise<pg.Pool> {
    const db = await createTestDatabase(inject('databaseUrl'), 'legacy_seed');
    dbs.push(db);
    await migrateLegacy(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pools.push(pool);
    return pool;
  }

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  let first: pg.Pool;
  let firstSums: Record<string, string>;

  it('seeds 3000 patients with admissions and results', async () => {
    first = await freshDatabase();
    const report = await seedLegacy(first, { patients: 3000, seed: 42 });
    expect(report.seeded).toBe(true);
    expect(report.patients).toBe(3000);
    expect(report.admissions).toBeGreaterThan(2000);
    expect(report.results).toBeGreaterThan(report.admissions * 3);
    // how long it took is printed, not asserted: speed belongs to benchmarks
    console.log(`[measured] seeding 3000 patients took ${report.ms} ms`);
    expect(await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM PATIENT_MASTER')).toBe(3000);
    expect(await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM LAB_RESULT')).toBe(report.results);
    firstSums = await checksum(first);
  });

  it('gives byte-identical data for the same seed, and different data for another seed', async () => {
    const same = await freshDatabase();
    await seedLegacy(same, { patients: 3000, seed: 42 });
    expect(await checksum(same)).toEqual(firstSums);

    const other = await freshDatabase();
    await seedLegacy(other, { patients: 3000, seed: 43 });
    const otherSums = await checksum(other);
    expect(otherSums.patient_master).not.toBe(firstSums.patient_master);
    expect(otherSums.lab_result).not.toBe(firstSums.lab_result);
    expect(otherSums.ward).toBe(firstSums.ward); // reference data comes from the migration
  });

  it('never seeds a database that already has patients', async () => {
    const again = await seedLegacy(first, { patients: 3000, seed: 42 });
    expect(again.seeded).toBe(false);
    expect(await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM PATIENT_MASTER')).toBe(3000);
    expect(await checksum(first)).toEqual(firstSums);
  });

  it('does not seed when two seeds race on one empty database', async () => {
    const pool = await freshDatabase();
    const reports = await Promise.all([seedLegacy(pool, { patients: 200, seed: 1 }), seedLegacy(pool, { patients: 200, seed: 1 })]);
    expect(reports.filter((r) => r.seeded)).toHaveLength(1);
    expect(await sqlValue<number>(pool, 'SELECT count(*)::int AS v FROM PATIENT_MASTER')).toBe(200);
  });

  it('lets the identifier generators continue after the seeded rows', async () => {
    const mrn = await sqlValue<string>(
      first,
      `INSERT INTO PATIENT_MASTER (PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD) VALUES ('ZZTEST', 'ONE', DATE '2000-01-01', 'U') RETURNING PAT_MRN AS v`,
    );
    expect(mrn).toBe('103001');
    const admId = await sqlValue<number>(
      first,
      `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, WARD_CD, ADM_TYPE_CD) VALUES ('103001', TIMESTAMP '2024-07-01 09:00', 'MED1', 'I') RETURNING ADM_ID AS v`,
    );
    expect(admId).toBe(await sqlValue<number>(first, 'SELECT max(ADM_ID) AS v FROM ADMISSION'));
    expect(admId).toBeGreaterThan(1);
    await first.query(`DELETE FROM ADMISSION WHERE PAT_MRN = '103001'`);
    await first.query(`DELETE FROM PATIENT_MASTER WHERE PAT_MRN = '103001'`);
  });

  it('produces plausible demographics', async () => {
    const { rows } = await first.query<{ sex_cd: string; n: number }>('SELECT SEX_CD, count(*)::int AS n FROM PATIENT_MASTER GROUP BY 1');
    const bySex = Object.fromEntries(rows.map((r) => [r.sex_cd, r.n]));
    expect(bySex.M).toBeGreaterThan(1200);
    expect(bySex.F).toBeGreaterThan(1200);
    expect(await sqlValue<number>(first, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM <> upper(PAT_LAST_NM) OR PAT_FIRST_NM <> upper(PAT_FIRST_NM)`)).toBe(0);
    expect(await sqlValue<number>(first, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_DOB > CREATE_DT::date OR LAST_UPD_DT < CREATE_DT`)).toBe(0);
    expect(await sqlValue<number>(first, `SELECT count(DISTINCT PAT_LAST_NM)::int AS v FROM PATIENT_MASTER`)).toBeGreaterThan(100);
  });

  it('has patients still admitted, one per bed, and discharged stays with a disposition', async () => {
    const open = await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM ADMISSION WHERE DSCH_DT IS NULL');
    expect(open).toBeGreaterThan(50);
    expect(await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM ADMISSION WHERE DSCH_DT IS NOT NULL')).toBeGreaterThan(open * 5);
    expect(await sqlValue<number>(first, 'SELECT count(*)::int AS v FROM (SELECT WARD_CD, BED_NO FROM ADMISSION WHERE DSCH_DT IS NULL GROUP BY 1, 2 HAVING count(*) > 1) d')).toBe(0);
    // a patient has at most one open stay, and stays of one patient never overlap
    expect(
      await sqlValue<number>(
        first,
        `SELECT count(*)::int AS v FROM ADMISSION A JOIN ADMISSION B ON A.PAT_MRN = B.PAT_MRN AND A.ADM_ID < B.ADM_ID
          WHERE A.ADM_DT < COALESCE(B.DSCH_DT, 'infinity') AND B.ADM_DT < COALESCE(A.DSCH_DT, 'infinity')`,
      ),
    ).toBe(0);
    // whoever died is no longer active and has nothing after the death
    expect(await sqlValue<number>(first, `SELECT count(*)::int AS v FROM ADMISSION A JOIN PATIENT_MASTER P USING (PAT_MRN) WHERE A.DSCH_DISP_CD = '20' AND P.ACTIVE_FLG = 'Y'`)).toBe(0);
  });

  it('flags every numeric lab result consistently with its value and reference range', async () => {
    const { rows } = await first.query<{ result_val: string; ref_range: string; abn_flag: string | null; test_nm: string }>(
      `SELECT RESULT_VAL, REF_RANGE, ABN_FLAG, TEST_NM FROM LAB_RESULT WHERE UNITS IS NOT NULL`,
    );
    expect(rows.length).toBeGreaterThan(10_000);
    const flags = new Set<string | null>();
    for (const r of rows) {
      const value = Number(r.result_val);
      expect(Number.isFinite(value), `${r.test_nm} ${r.result_val}`).toBe(true);
      const [low, high] = r.ref_range.startsWith('<') ? [-Infinity, Number(r.ref_range.slice(1))] : r.ref_range.split('-').map(Number);
      const inRange = r.ref_range.startsWith('<') ? value < (high as number) : value >= (low as number) && value <= (high as number);
      if (inRange) expect(r.abn_flag, `${r.test_nm} ${r.result_val} ${r.ref_range}`).toBeNull();
      else if (value > (high as number)) expect(['H', 'HH']).toContain(r.abn_flag);
      else expect(['L', 'LL']).toContain(r.abn_flag);
      flags.add(r.abn_flag);
    }
    expect([...flags].sort()).toEqual(expect.arrayContaining(['H', 'HH', 'L', 'LL', null]));
    expect(await sqlValue<number>(first, `SELECT count(DISTINCT TEST_CD)::int AS v FROM LAB_RESULT`)).toBeGreaterThanOrEqual(10);
    expect(await sqlValue<number>(first, `SELECT count(*)::int AS v FROM LAB_RESULT WHERE ADM_ID IS NULL`)).toBeGreaterThan(0);
    expect(await sqlValue<number>(first, `SELECT count(*)::int AS v FROM LAB_RESULT WHERE RESULT_DT < COLLECT_DT OR LAST_UPD_DT < RESULT_DT`)).toBe(0);
    const statuses = await first.query<{ s: string }>(`SELECT DISTINCT RESULT_STAT_CD AS s FROM LAB_RESULT ORDER BY 1`);
    expect(statuses.rows.map((r) => r.s)).toEqual(['C', 'F', 'P']);
  });
});
