/**
 * Fills an empty legacy database with the synthetic hospital. It refuses to touch a database
 * that already has patients: the seed is for demo and test databases, and must never mix
 * invented people into real records (or double them on a restart).
 */
import type pg from 'pg';
import { rollback, withTransaction } from '@ficus/contracts';
import { generateHospital } from './synthetic-hospital.js';
import type { AdmissionRow, LabResultRow, PatientRow } from './synthetic-rows.js';

export interface SeedOptions {
  /** number of synthetic patients (admissions and results follow from them) */
  patients?: number;
  /** PRNG seed: the same seed and patient count give byte-identical data */
  seed?: number;
}

export interface SeedReport {
  /** false when the database already had patients and nothing was written */
  seeded: boolean;
  patients: number;
  admissions: number;
  results: number;
  ms: number;
}

export const DEFAULT_SEED = 20_240_701;
export const DEFAULT_SEED_PATIENTS = 3000;

export async function seedLegacy(pool: pg.Pool, options: SeedOptions = {}): Promise<SeedReport> {
  const patientCount = options.patients ?? DEFAULT_SEED_PATIENTS;
  const seed = options.seed ?? DEFAULT_SEED;
  const started = performance.now();
  const report: SeedReport = { seeded: false, patients: 0, admissions: 0, results: 0, ms: 0 };
  if (patientCount <= 0) return report;

  const seeded = await withTransaction(pool, async (client) => {
    // two instances starting together on one empty database: the second waits here, then
    // sees the first one's patients and backs off
    await client.query('LOCK TABLE PATIENT_MASTER IN EXCLUSIVE MODE');
    const existing = await client.query<{ has_patients: boolean }>('SELECT EXISTS (SELECT 1 FROM PATIENT_MASTER) AS has_patients');
    if (existing.rows[0]?.has_patients) return rollback(false);
    for (const batch of generateHospital(patientCount, seed)) {
      await insertPatients(client, batch.patients);
      await insertAdmissions(client, batch.admissions);
      await insertResults(client, batch.results);
      report.patients += batch.patients.length;
      report.admissions += batch.admissions.length;
      report.results += batch.results.length;
    }
    await resetIdentifierSequences(client);
    return true;
  });
  if (!seeded) return { ...report, ms: Math.round(performance.now() - started) };
  // fresh statistics, or the planner guesses on the empty-table numbers
  await pool.query('ANALYZE PATIENT_MASTER, ADMISSION, LAB_RESULT');
  return { ...report, seeded: true, ms: Math.round(performance.now() - started) };
}

const col = <R, K extends keyof R>(rows: readonly R[], key: K): R[K][] => rows.map((r) => r[key]);

// one INSERT ... SELECT FROM unnest(arrays) per batch and table: a single round trip for
// thousands of rows, with no SQL built from data
async function insertPatients(client: pg.PoolClient, rows: PatientRow[]) {
  await client.query(
    `INSERT INTO PATIENT_MASTER (PAT_ID, PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM,
       STATE_CD, ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG, CREATE_DT, LAST_UPD_DT, LAST_UPD_USER)
     SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::date[], $7::char[], $8::varchar[],
       $9::varchar[], $10::char(2)[], $11::varchar[], $12::varchar[], $13::char[], $14::char[], $15::timestamp[], $16::timestamp[], $17::varchar[])`,
    [
      col(rows, 'patId'), col(rows, 'mrn'), col(rows, 'lastName'), col(rows, 'firstName'), col(rows, 'middleName'), col(rows, 'dob'),
      col(rows, 'sex'), col(rows, 'addrLine1'), col(rows, 'city'), col(rows, 'state'), col(rows, 'zip'), col(rows, 'phone'),
      col(rows, 'marital'), col(rows, 'active'), col(rows, 'createDt'), col(rows, 'lastUpdDt'), col(rows, 'lastUpdUser'),
    ],
  );
}

async function insertAdmissions(client: pg.PoolClient, rows: AdmissionRow[]) {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ADMISSION (ADM_ID, PAT_MRN, ADM_DT, DSCH_DT, WARD_CD, BED_NO, ADM_TYPE_CD, ATTEND_DR_ID, DSCH_DISP_CD, LAST_UPD_DT)
     SELECT * FROM unnest($1::int[], $2::varchar[], $3::timestamp[], $4::timestamp[], $5::varchar[], $6::varchar[], $7::char[],
       $8::varchar[], $9::char(2)[], $10::timestamp[])`,
    [
      col(rows, 'admId'), col(rows, 'mrn'), col(rows, 'admDt'), col(rows, 'dschDt'), col(rows, 'wardCd'), col(rows, 'bedNo'),
      col(rows, 'admTypeCd'), col(rows, 'attendDrId'), col(rows, 'dschDispCd'), col(rows, 'lastUpdDt'),
    ],
  );
}

async function insertResults(client: pg.PoolClient, rows: LabResultRow[]) {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO LAB_RESULT (RESULT_ID, PAT_MRN, ADM_ID, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, UNITS, REF_RANGE, ABN_FLAG,
       RESULT_STAT_CD, COLLECT_DT, RESULT_DT, LAST_UPD_DT)
     SELECT * FROM unnest($1::bigint[], $2::varchar[], $3::int[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[],
       $8::varchar[], $9::varchar[], $10::varchar[], $11::char[], $12::timestamp[], $13::timestamp[], $14::timestamp[])`,
    [
      col(rows, 'resultId'), col(rows, 'mrn'), col(rows, 'admId'), col(rows, 'orderNo'), col(rows, 'testCd'), col(rows, 'testNm'),
      col(rows, 'resultVal'), col(rows, 'units'), col(rows, 'refRange'), col(rows, 'abnFlag'), col(rows, 'statCd'),
      col(rows, 'collectDt'), col(rows, 'resultDt'), col(rows, 'lastUpdDt'),
    ],
  );
}

/** the seed wrote explicit identifiers, so the generators must continue after them */
async function resetIdentifierSequences(client: pg.PoolClient) {
  await client.query(`SELECT setval('PAT_MRN_SEQ', (SELECT max(PAT_MRN::bigint) FROM PATIENT_MASTER))`);
  // pg_get_serial_sequence folds the table name but takes the column name literally: lower case
  for (const [table, column] of [['patient_master', 'pat_id'], ['admission', 'adm_id'], ['lab_result', 'result_id']] as const) {
    await client.query(`SELECT setval(pg_get_serial_sequence('${table}', '${column}'), COALESCE((SELECT max(${column}) FROM ${table}), 0) + 1, false)`);
  }
}
