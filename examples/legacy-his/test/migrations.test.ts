import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, dropDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { MIGRATIONS_TABLE, migrateLegacy } from '../src/index.js';
import { sqlValue } from '../../../test-support/legacy-his.js';

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'legacy_migrations');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('migrateLegacy', () => {
  it('creates the legacy tables once, recording them in its own migrations table', async () => {
    const applied = await migrateLegacy(db.url);
    expect(applied).toEqual(['001_patient-master', '002_ward-admission', '003_lab-result', '004_last-upd-triggers', '005_hl7-inbound', '006_cdc-replica-identity']);
    expect(await migrateLegacy(db.url)).toEqual([]);
    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'admission', 'hl7_inbound_log', 'hl7_ward_map', 'lab_result', MIGRATIONS_TABLE, 'patient_master', 'patient_merge', 'ward',
    ]);
    expect(await sqlValue<number>(pool, `SELECT count(*)::int AS v FROM ${MIGRATIONS_TABLE}`)).toBe(6);
  });

  it('gives the captured tables REPLICA IDENTITY FULL (change-data capture carries whole old rows)', async () => {
    const { rows } = await pool.query<{ relname: string; relreplident: string }>(
      `SELECT relname, relreplident FROM pg_class WHERE relname IN ('patient_master', 'ward', 'admission', 'lab_result', 'patient_merge') ORDER BY relname`,
    );
    expect(rows.map((r) => `${r.relname}:${r.relreplident}`)).toEqual(['admission:f', 'lab_result:f', 'patient_master:f', 'patient_merge:f', 'ward:f']);
  });

  it('creates a missing database', async () => {
    const url = new URL(db.url);
    url.pathname = `/${db.name}_new`;
    try {
      expect(await migrateLegacy(url.toString())).toHaveLength(6);
    } finally {
      await dropDatabase(pool, `${db.name}_new`);
    }
  });

  it('keeps LAST_UPD_DT current on a real change only, and believes an explicit one', async () => {
    await pool.query(
      `INSERT INTO PATIENT_MASTER (PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD, LAST_UPD_DT) VALUES ('TRIGGER', 'TEST', DATE '1970-01-01', 'U', TIMESTAMP '2001-01-01 00:00')`,
    );
    const lastUpd = () => sqlValue<string>(pool, `SELECT to_char(LAST_UPD_DT, 'YYYY-MM-DD HH24:MI:SS') AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM = 'TRIGGER'`);
    await pool.query(`UPDATE PATIENT_MASTER SET CITY_NM = NULL WHERE PAT_LAST_NM = 'TRIGGER'`);
    expect(await lastUpd()).toBe('2001-01-01 00:00:00');
    await pool.query(`UPDATE PATIENT_MASTER SET CITY_NM = 'PEORIA' WHERE PAT_LAST_NM = 'TRIGGER'`);
    const now = await sqlValue<string>(pool, `SELECT to_char(LOCALTIMESTAMP(0), 'YYYY-MM-DD') AS v`);
    expect((await lastUpd()).slice(0, 10)).toBe(now);
    await pool.query(`UPDATE PATIENT_MASTER SET CITY_NM = 'QUINCY', LAST_UPD_DT = TIMESTAMP '2002-02-02 02:02' WHERE PAT_LAST_NM = 'TRIGGER'`);
    expect(await lastUpd()).toBe('2002-02-02 02:02:00');
  });

  it('issues MRNs from 100001 and enforces the legacy codes', async () => {
    expect(await sqlValue<string>(pool, `SELECT PAT_MRN AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM = 'TRIGGER'`)).toBe('100001');
    await expect(pool.query(`INSERT INTO PATIENT_MASTER (PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD) VALUES ('X', 'Y', DATE '1970-01-01', 'Q')`)).rejects.toThrow(/check constraint/);
    await expect(
      pool.query(`INSERT INTO ADMISSION (PAT_MRN, ADM_DT, DSCH_DT, WARD_CD, ADM_TYPE_CD) VALUES ('100001', TIMESTAMP '2024-01-02', TIMESTAMP '2024-01-01', 'MED1', 'I')`),
    ).rejects.toThrow(/check constraint/);
    await expect(pool.query(`INSERT INTO ADMISSION (PAT_MRN, ADM_DT, WARD_CD, ADM_TYPE_CD) VALUES ('100001', TIMESTAMP '2024-01-02', 'NOPE', 'I')`)).rejects.toThrow(/foreign key/);
  });
});
