/**
 * Odd but valid legacy values through CDC into the services: a birth date BC or after 9999, a
 * stay discharged at `infinity`, a BIGINT result id beyond 2^53. The change events carry them
 * as the CDC writes them (legacy-adapters/cdc snapshot-values.test.ts); patient-service and
 * results-service take them without a dead letter and answer them as the legacy does, byte for
 * byte, the values kept (examples/legacy-his odd-legacy-values.test.ts). In FHIR, whose dates
 * have years 0001 to 9999 and no `infinity`, such a value is left out with the standard
 * data-absent-reason extension, every resource valid against the R4 schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { fhirProblems } from '../../test-support/fhir-schema.js';
import { ask, deadLetters, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';

let scene: ServiceScene;
let redisDir: string;
let ownRedis: PrivateRedis;
let admissionId: number;
let farAdmissionId: number;

const RESULT_ID = '9007199254740993';
/** a result of 9100003 collected BC, resulted at infinity */
const ODD_TIMES_RESULT_ID = '9100003001';
const patient = (mrn: string, dateOfBirth: string) => ({
  mrn, lastName: 'ODDVALUE', firstName: 'TEST', middleName: null, dateOfBirth, sex: 'U', addressLine1: null, city: null, state: null, zip: null, phone: null,
  maritalStatus: null, active: 'Y', created: '2011-03-08T15:43:00', lastUpdated: '2011-03-08T15:43:00', lastUpdatedBy: 'CONVERSION',
});

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-odd-values-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  scene = await startServiceScene({ prefix: 'svc_oddvalues', redisDb: 0, redisUrl: ownRedis.url, patients: 5, seed: 5_150 });
  await scene.cdc.snapshot();
  await scene.drain();
  const legacy = scene.legacy.pool;
  await legacy.query(
    `INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD, CREATE_DT, LAST_UPD_DT, LAST_UPD_USER) VALUES
       ('9100002', 'ODDVALUE', 'TEST', '0044-03-15 BC', 'U', '2011-03-08 15:43:00', '2011-03-08 15:43:00', 'CONVERSION'),
       ('9100003', 'ODDVALUE', 'TEST', '10000-01-01', 'U', '2011-03-08 15:43:00', '2011-03-08 15:43:00', 'CONVERSION')`,
  );
  admissionId = (
    await legacy.query<{ id: number }>(
      `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, DSCH_DT, WARD_CD, ADM_TYPE_CD, DSCH_DISP_CD, LAST_UPD_DT)
       VALUES ('9100002', '2024-07-01 10:00:00', 'infinity', 'MED1', 'I', '01', '2024-07-01 10:00:00') RETURNING ADM_ID AS id`,
    )
  ).rows[0]!.id;
  farAdmissionId = (
    await legacy.query<{ id: number }>(
      `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, DSCH_DT, WARD_CD, ADM_TYPE_CD, DSCH_DISP_CD, LAST_UPD_DT)
       VALUES ('9100003', '0044-03-15 12:00:00 BC', '10000-01-01 10:00:00', 'MED1', 'I', '01', '2024-07-01 10:00:00') RETURNING ADM_ID AS id`,
    )
  ).rows[0]!.id;
  await legacy.query(
    `INSERT INTO LAB_RESULT (RESULT_ID, PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, RESULT_STAT_CD, COLLECT_DT, LAST_UPD_DT)
     VALUES (${RESULT_ID}, '9100002', 'L1', '2160-0', 'CREATININE', '0.70', 'F', '2024-07-01 06:00:00', '2024-07-01 06:00:00')`,
  );
  await legacy.query(
    `INSERT INTO LAB_RESULT (RESULT_ID, PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, RESULT_STAT_CD, COLLECT_DT, RESULT_DT, LAST_UPD_DT)
     VALUES (${ODD_TIMES_RESULT_ID}, '9100003', 'L9', '2160-0', 'CREATININE', '0.90', 'F', '0044-03-15 12:00:00 BC', 'infinity', '2024-07-01 06:00:00')`,
  );
  // the rows as the CDC's change events carry them (its own reading, not the test stand-in's to_char)
  const { cdc } = scene;
  await cdc.publish([cdc.event('patients', 'create', { mrn: '9100002' }, null, patient('9100002', '0044-03-15 BC')), cdc.event('patients', 'create', { mrn: '9100003' }, null, patient('9100003', '10000-01-01'))]);
  await scene.drain();
  await cdc.publish([
    cdc.event('admissions', 'create', { admissionId }, null, {
      admissionId, mrn: '9100002', admitDate: '2024-07-01T10:00:00', dischargeDate: 'infinity', ward: 'MED1', bed: null, admissionType: 'I',
      attendingDoctorId: null, dischargeDisposition: '01', visitNumber: null, lastUpdated: '2024-07-01T10:00:00',
    }),
    cdc.event('admissions', 'create', { admissionId: farAdmissionId }, null, {
      admissionId: farAdmissionId, mrn: '9100003', admitDate: '0044-03-15T12:00:00 BC', dischargeDate: '10000-01-01T10:00:00', ward: 'MED1', bed: null, admissionType: 'I',
      attendingDoctorId: null, dischargeDisposition: '01', visitNumber: null, lastUpdated: '2024-07-01T10:00:00',
    }),
    cdc.event('lab-results', 'create', { resultId: RESULT_ID }, null, {
      resultId: RESULT_ID, mrn: '9100002', admissionId: null, orderNumber: 'L1', testCode: '2160-0', testName: 'CREATININE', value: '0.70', units: null,
      referenceRange: null, abnormalFlag: null, status: 'F', collectedDate: '2024-07-01T06:00:00', resultDate: null, lastUpdated: '2024-07-01T06:00:00',
    }),
    cdc.event('lab-results', 'create', { resultId: ODD_TIMES_RESULT_ID }, null, {
      resultId: ODD_TIMES_RESULT_ID, mrn: '9100003', admissionId: null, orderNumber: 'L9', testCode: '2160-0', testName: 'CREATININE', value: '0.90', units: null,
      referenceRange: null, abnormalFlag: null, status: 'F', collectedDate: '0044-03-15T12:00:00 BC', resultDate: 'infinity', lastUpdated: '2024-07-01T06:00:00',
    }),
  ]);
  await scene.drain();
});
afterAll(async () => {
  await scene?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

describe('odd legacy values through CDC', () => {
  it('are taken without a dead letter and answered as the legacy answers them, the values kept', async () => {
    expect(await deadLetters(scene.redis)).toEqual([]);
    const asked: [string, string][] = [
      [scene.patients.url, '/api/patients/9100002'],
      [scene.patients.url, '/api/patients/9100003'],
      [scene.patients.url, '/api/encounters?mrn=9100002'],
      [scene.results.url, '/api/results?mrn=9100002'],
    ];
    const answers = await Promise.all(asked.map(async ([service, p]) => ({ legacy: await ask(scene.legacy.base, p), service: await ask(service, p) })));
    for (const { legacy, service } of answers) {
      expect(service.status).toBe(200);
      expect(service).toEqual(legacy);
    }
    const [bc, far, stays, results] = answers.map((a) => a.service.body);
    expect(bc).toContain('"dateOfBirth":"0044-03-15 BC"');
    expect(far).toContain('"dateOfBirth":"10000-01-01"');
    expect(stays).toContain(`"admissionId":${admissionId},"mrn":"9100002","admitDate":"2024-07-01T10:00:00","dischargeDate":"infinity","status":"DISCHARGED"`);
    expect(results).toContain(`"resultId":${RESULT_ID},"mrn":"9100002"`);
  });

  it('are left out of FHIR resources with their data-absent-reason, where FHIR dates cannot hold them', async () => {
    const read = async <T>(p: string): Promise<T> => {
      const res = await ask(scene.patients.url, p);
      expect(res.status, p).toBe(200);
      const body = JSON.parse(res.body) as T;
      expect(fhirProblems(body), p).toEqual([]);
      return body;
    };
    const absent = (valueCode: string) => ({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode }] });
    for (const mrn of ['9100002', '9100003']) {
      const p = await read<Record<string, unknown>>(`/fhir/Patient/${mrn}`);
      expect(p.birthDate, mrn).toBeUndefined();
      expect(p._birthDate, mrn).toEqual(absent('unsupported'));
    }
    // discharged at infinity: finished, its end not kept (a period with no end would go on)
    type Period = Record<string, unknown>;
    type Encounter = { id: string; status: string; period: Period; location: { status: string; period: Period }[] };
    const stay = await read<Encounter>(`/fhir/Encounter/${admissionId}`);
    expect(stay.status).toBe('finished');
    expect(Object.keys(stay.period)).toEqual(['start', '_end']);
    expect([stay.period.start, stay.period._end]).toEqual([expect.stringMatching(/^2024-07-01T10:00:00[+-]\d\d:\d\d$/), absent('unknown')]);
    expect(stay.location.map((l) => [l.status, l.period._end])).toEqual([['completed', absent('unknown')]]);
    const bundle = await read<{ entry: { resource: Encounter }[] }>('/fhir/Encounter?patient=9100002');
    expect(bundle.entry.map((e) => [e.resource.id, e.resource.status])).toEqual([[String(admissionId), 'finished']]);
    // admitted BC, discharged after 9999: neither is a FHIR dateTime
    const far = await read<Encounter>(`/fhir/Encounter/${farAdmissionId}`);
    expect([far.status, far.period]).toEqual(['finished', { _start: absent('unsupported'), _end: absent('unsupported') }]);
    // results-service: a result collected BC and resulted at infinity, alone and as its order's report
    const fromResults = async (p: string) => {
      const res = await ask(scene.results.url, p);
      expect(res.status, p).toBe(200);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(fhirProblems(body), p).toEqual([]);
      return body;
    };
    const observations = await fromResults('/fhir/Observation?patient=9100003');
    const observation = (observations.entry as { resource: Record<string, unknown> }[])[0]!.resource;
    const report = await fromResults('/fhir/DiagnosticReport?patient=9100003');
    for (const r of [observation, (report.entry as { resource: Record<string, unknown> }[])[0]!.resource]) {
      expect([r.resourceType, r.effectiveDateTime, r._effectiveDateTime, r.issued, r._issued]).toEqual([r.resourceType, undefined, absent('unsupported'), undefined, absent('unknown')]);
    }
  });
});
