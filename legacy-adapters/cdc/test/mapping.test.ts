/**
 * The mapping file: the shipped one is exactly the topics of the CDC contract (CDC-TOPICS.md)
 * and fits the migrated legacy database; invalid ones are refused with file:line:column and
 * the reason, by schema, by meaning, and against the database; a server without logical
 * replication is refused naming the setting.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatIssue, listRuleFiles, loadRuleDir } from '@ficus/contracts';
import { migrateLegacy } from '@ficus/legacy-his';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { loadMapping, MappingError, parseMapping } from '../src/mapping/mapping-file.js';
import { checkLogicalReplication, checkMapping, mappingWarnings } from '../src/postgres/preflight.js';
import { ROOT, SHIPPED_MAPPING } from './support/cdc-scene.js';

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof MappingError) return e.issues.map(formatIssue);
    throw e;
  }
  throw new Error('no issue');
};

/** the contract, as the issue states it: topic, table, key, [field, column]... */
const CONTRACT: [string, string, string[], string][] = [
  ['patients', 'PATIENT_MASTER', ['mrn'], 'mrn PAT_MRN, lastName PAT_LAST_NM, firstName PAT_FIRST_NM, middleName PAT_MID_NM, dateOfBirth PAT_DOB, sex SEX_CD, addressLine1 ADDR_LINE1, city CITY_NM, state STATE_CD, zip ZIP_CD, phone PHONE_NO, maritalStatus MARITAL_CD, active ACTIVE_FLG, created CREATE_DT, lastUpdated LAST_UPD_DT, lastUpdatedBy LAST_UPD_USER'],
  ['wards', 'WARD', ['code'], 'code WARD_CD, description WARD_DESC'],
  ['admissions', 'ADMISSION', ['admissionId'], 'admissionId ADM_ID, mrn PAT_MRN, admitDate ADM_DT, dischargeDate DSCH_DT, ward WARD_CD, bed BED_NO, admissionType ADM_TYPE_CD, attendingDoctorId ATTEND_DR_ID, dischargeDisposition DSCH_DISP_CD, visitNumber VISIT_NO, lastUpdated LAST_UPD_DT'],
  ['lab-results', 'LAB_RESULT', ['resultId'], 'resultId RESULT_ID, mrn PAT_MRN, admissionId ADM_ID, orderNumber ORDER_NO, testCode TEST_CD, testName TEST_NM, value RESULT_VAL, units UNITS, referenceRange REF_RANGE, abnormalFlag ABN_FLAG, status RESULT_STAT_CD, collectedDate COLLECT_DT, resultDate RESULT_DT, lastUpdated LAST_UPD_DT'],
  ['patient-merges', 'PATIENT_MERGE', ['mergeId'], 'mergeId MERGE_ID, survivorMrn SURVIVOR_MRN, mergedMrn MERGED_MRN, admissionCount ADM_CNT, resultCount RESULT_CNT, sendingFacility SEND_FACILITY, controlId CONTROL_ID, mergedAt MERGE_DT'],
];

describe('the shipped mapping', () => {
  it('is exactly the topics of the CDC contract', async () => {
    const m = await loadMapping(SHIPPED_MAPPING);
    expect(m.source).toBe('legacy-pg');
    expect(m.topics.map((t) => [t.topic, t.table, t.key, t.fields.map(([f, c]) => `${f} ${c}`).join(', ')])).toEqual(CONTRACT);
    expect(m.topics.find((t) => t.topic === 'patients')!.ignore).toEqual(['PAT_ID']);
    expect(m.topics.every((t) => t.onNewColumn === 'refuse')).toBe(true);
  });

  it('records a merge written back as the legacy records its own A40: stays and results moved, the results\' move as the legacy\'s own change', async () => {
    const m = await loadMapping(SHIPPED_MAPPING);
    expect(m.topics.find((t) => t.topic === 'patient-merges')!.merge).toEqual({
      survivor: 'survivorMrn',
      merged: 'mergedMrn',
      moves: [
        { table: 'ADMISSION', column: 'PAT_MRN', count: 'admissionCount', asLegacyChange: false },
        { table: 'LAB_RESULT', column: 'PAT_MRN', count: 'resultCount', asLegacyChange: true },
      ],
    });
    expect(m.topics.filter((t) => t.merge).map((t) => t.topic)).toEqual(['patient-merges']);
  });

  it('is not read by the routing rule loaders, which still load their folder', async () => {
    const rulesDir = `${ROOT}/routing-rules`;
    expect((await listRuleFiles(rulesDir)).some((f) => f.includes('cdc'))).toBe(false);
    const rules = await loadRuleDir(rulesDir);
    expect(rules.ok, JSON.stringify(rules)).toBe(true);
  });
});

describe('an invalid mapping', () => {
  const shipped = readFileSync(SHIPPED_MAPPING, 'utf8');

  it('is refused by schema and by meaning, each issue at its file, line and column', () => {
    expect(issuesOf(() => parseMapping(shipped.replace('    - topic: wards', '    - topic: Wards'), 'm.yaml'))).toEqual([
      expect.stringMatching(/^m\.yaml:\d+:7: field "topic": does not match lower-case letters, digits and dashes$/),
    ]);
    expect(issuesOf(() => parseMapping(shipped.replace('topic: wards', 'topic: patients'), 'm.yaml'))).toEqual([expect.stringMatching(/^m\.yaml:\d+:\d+: field "topic": topic "patients" is already fed by topics\[0\]$/)]);
    expect(issuesOf(() => parseMapping(shipped.replace('key: [code]', 'key: [wardCode]'), 'm.yaml'))).toEqual([expect.stringMatching(/^m\.yaml:\d+:\d+: .*key field "wardCode" is not one of the topic's fields$/)]);
    expect(issuesOf(() => parseMapping(shipped.replace('        description: WARD_DESC', '        description: WARD_DESC\n        label: WARD_CD'), 'm.yaml'))).toEqual([expect.stringMatching(/column WARD_CD is already mapped to field "code"$/)]);
    expect(issuesOf(() => parseMapping(shipped.replace('ignore: [PAT_ID]', 'ignore: [PAT_MRN]'), 'm.yaml'))).toEqual([expect.stringMatching(/column PAT_MRN is both ignored and mapped to field "mrn"$/)]);
    expect(issuesOf(() => parseMapping(shipped.replace('  onNewColumn: refuse', '  onNewColumn: maybe\n  extra: 1'), 'm.yaml'))).toEqual([
      expect.stringMatching(/^m\.yaml:\d+:\d+: field "extra": unknown field "extra"$/),
      expect.stringMatching(/^m\.yaml:16:3: field "onNewColumn": must be one of refuse, ignore, carry$/),
    ].sort());
    expect(issuesOf(() => parseMapping('cdc: [', 'm.yaml'))[0]).toMatch(/^m\.yaml:1:\d+: YAML: /);
  });

  it('refuses a writeBackMerge that names what the mapping does not have, each issue located', () => {
    const broken = shipped
      .replace('survivor: survivorMrn', 'survivor: survivor')
      .replace('{ table: ADMISSION, column: PAT_MRN, count: admissionCount }', '{ table: ADMISSIONS, column: PAT_MRN, count: admissionCount }')
      .replace('{ table: LAB_RESULT, column: PAT_MRN, count: resultCount, asLegacyChange: true }', '{ table: LAB_RESULT, column: PATIENT, count: results, asLegacyChange: true }');
    expect(issuesOf(() => parseMapping(broken, 'm.yaml'))).toEqual([
      expect.stringMatching(/^m\.yaml:\d+:\d+: field "survivor": "survivor" is not one of the topic's fields$/),
      expect.stringMatching(/^m\.yaml:\d+:\d+: field "table": table ADMISSIONS is not the table of another topic of the mapping: a move the capture does not see would reach no service$/),
      expect.stringMatching(/^m\.yaml:\d+:\d+: field "count": "results" is not one of the topic's fields$/),
      expect.stringMatching(/^m\.yaml:\d+:\d+: field "column": column PATIENT is not mapped by the topic of table LAB_RESULT$/),
    ]);
    expect(issuesOf(() => parseMapping(shipped.replace('asLegacyChange: true', 'asLegacyChange: yes please'), 'm.yaml'))).toEqual([expect.stringMatching(/field "asLegacyChange": must be boolean$/)]);
  });
});

describe('the mapping against the database', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase(inject('databaseUrl'), 'cdc_mapping');
    await migrateLegacy(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('fits the migrated legacy database', async () => {
    const tables = await checkMapping(pool, await loadMapping(SHIPPED_MAPPING));
    expect(tables.map((t) => t.name)).toEqual(['patient_master', 'ward', 'admission', 'lab_result', 'patient_merge']);
    expect(tables[0]!.plan.ignored).toEqual(['pat_id']);
  });

  it('refuses unknown tables and columns, unmapped columns, and tables without REPLICA IDENTITY FULL, located in the file', async () => {
    const shipped = readFileSync(SHIPPED_MAPPING, 'utf8');
    const broken = shipped
      .replace('table: WARD', 'table: WARDS')
      .replace('bed: BED_NO', 'bed: BED_NUMBER')
      .replace('        lastUpdatedBy: LAST_UPD_USER\n', '');
    await pool.query('ALTER TABLE PATIENT_MERGE REPLICA IDENTITY DEFAULT');
    try {
      const issues = await checkMapping(pool, parseMapping(broken, 'routing-rules/cdc/legacy-his.yaml')).then(
        () => [],
        (e: MappingError) => e.issues.map(formatIssue),
      );
      expect(issues).toEqual([
        expect.stringMatching(/^routing-rules\/cdc\/legacy-his\.yaml:\d+:\d+: field "fields": table PATIENT_MASTER has column last_upd_user that the mapping of topic "patients" neither maps nor ignores/),
        expect.stringMatching(/^routing-rules\/cdc\/legacy-his\.yaml:\d+:\d+: field "table": no table WARDS in schema public of the legacy database$/),
        expect.stringMatching(/^routing-rules\/cdc\/legacy-his\.yaml:\d+:\d+: field "bed": table ADMISSION has no column BED_NUMBER$/),
        expect.stringMatching(/field "table": table PATIENT_MERGE does not have REPLICA IDENTITY FULL.*ALTER TABLE PATIENT_MERGE REPLICA IDENTITY FULL/),
      ]);
    } finally {
      await pool.query('ALTER TABLE PATIENT_MERGE REPLICA IDENTITY FULL');
    }
  });

  it('takes an ignored column the table does not have as a warning located in the file, not a refusal', async () => {
    const shipped = readFileSync(SHIPPED_MAPPING, 'utf8');
    const m = parseMapping(shipped.replace('ignore: [PAT_ID]', 'ignore: [PAT_ID, EMAIL_ADDR]'), 'routing-rules/cdc/legacy-his.yaml');
    const tables = await checkMapping(pool, m);
    expect(tables[0]!.plan.ignored).toEqual(['pat_id']);
    expect(mappingWarnings(m).map(formatIssue)).toEqual([
      expect.stringMatching(/^routing-rules\/cdc\/legacy-his\.yaml:\d+:\d+: field "ignore": table PATIENT_MASTER has no column EMAIL_ADDR: remove it from ignore$/),
    ]);
    expect(mappingWarnings(await loadMapping(SHIPPED_MAPPING))).toEqual([]);
  });

  it('refuses a server without logical replication, naming the setting', async () => {
    const replica = { query: async () => ({ rows: [{ name: 'wal_level', setting: 'replica' }, { name: 'max_replication_slots', setting: '10' }, { name: 'max_wal_senders', setting: '10' }] }) } as unknown as pg.Pool;
    await expect(checkLogicalReplication(replica)).rejects.toThrow(/not configured for logical replication: wal_level is "replica", it must be "logical"/);
    await expect(checkLogicalReplication(pool)).resolves.toBeUndefined(); // the test server has it
  });
});
