/**
 * The services' data as FHIR R4 resources, every resource and Bundle the test reads validated
 * against the official R4 JSON schema: Patient (identifiers, merges as links, search by
 * identifier, family, birthdate, paging), Encounter (class, status, period, locations with the
 * transfer history, discharge disposition), Observation (valueQuantity with UCUM units or
 * valueString, reference ranges, interpretation, corrected status, date search) and
 * DiagnosticReport (one per order, result references that resolve); errors as OperationOutcome.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyPatient } from '@ficus/legacy-his';
import { fhirProblems } from '../../test-support/fhir-schema.js';
import { ask, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let mrns: string[];
const checked = { resources: 0 };

interface Resource {
  resourceType: string;
  id: string;
  [k: string]: unknown;
}
interface Bundle {
  resourceType: 'Bundle';
  type: string;
  total: number;
  link: { relation: string; url: string }[];
  /** none in the JSON when nothing matches; `fhir()` reads that as [] */
  entry: { fullUrl: string; resource: Resource }[];
}

/** a FHIR answer: the content type, and the body valid against the R4 schema (counted) */
async function fhir<T = Resource>(base: string, path: string, status = 200, init: RequestInit = {}): Promise<T> {
  const res = await ask(base, path, init);
  expect(res.status, path).toBe(status);
  expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
  const body = JSON.parse(res.body) as T;
  expect(fhirProblems(body), path).toEqual([]);
  // FHIR JSON has no empty arrays: a Bundle without matches has no `entry` (read here as none)
  if ((body as { resourceType?: string }).resourceType === 'Bundle') {
    expect((body as { entry?: unknown[] }).entry, path).not.toEqual([]);
    (body as { entry?: unknown[] }).entry ??= [];
  }
  checked.resources += 1 + ((body as { entry?: unknown[] }).entry?.length ?? 0);
  return body;
}

/** every entry of a search, following its `next` links (a page holds 50 by default) */
async function everyEntry(base: string, path: string): Promise<Bundle['entry']> {
  const entries: Bundle['entry'] = [];
  for (let next: string | undefined = path; next !== undefined; ) {
    const page: Bundle = await fhir<Bundle>(base, next);
    entries.push(...page.entry);
    next = page.link.find((l) => l.relation === 'next')?.url.slice(base.length);
  }
  return entries;
}

const at = () => hl7Time(new Date(Date.now() + 60_000));

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_fhir', redisDb: 15, patients: 40, seed: 4_040 });
  await scene.cdc.snapshot();
  await scene.drain();
  mrns = (await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN')).rows.map((r) => r.pat_mrn);
  const adt = (event: string, ...segments: string[]) => hl7(msh(`ADT^${event}^ADT_${event}`, uniqueControlId(event), { time: at() }), `EVN|${event}|${at()}`, ...segments);
  const pid = (mrn: string, extra: Record<number, string> = {}) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, ...extra });
  // a patient with other identifiers, admitted, moved, discharged; another merged into a third
  for (const m of [
    adt('A01', pid('7500001', { 3: '7500001^^^GENHOSP^MR~A123456^^^STATEINS^PI~99-88^^^CLINIC^MR', 5: 'fhir^felix^f', 7: '19800101', 8: 'M', 11: '1 main st^^peoria^il^61602', 13: '309-555-0100', 16: 'W' }), segment('PV1', { 1: '1', 2: 'E', 3: 'ED^^1', 7: 'D100', 19: 'V7500001', 44: '202407010600' })),
    adt('A02', pid('7500001'), segment('PV1', { 1: '1', 3: 'CARD^^12', 19: 'V7500001' })),
    adt('A03', pid('7500001'), segment('PV1', { 1: '1', 19: 'V7500001', 36: '6', 45: '202407051000' })),
    adt('A04', pid('7500002', { 5: 'away^alex', 7: '19700707', 8: 'F' })),
    adt('A04', pid('7500003', { 5: 'Müller^Jörg', 7: '19650303', 8: 'M' })),
  ]) {
    await scene.sendHl7('patient-service', m);
  }
  await scene.drain();
  // the merge names two patients, whose messages travel in different partitions: after both exist
  await scene.sendHl7('patient-service', adt('A40', pid(mrns[0]!), segment('MRG', { 1: '7500002' })));
  await scene.drain();
  const oru = hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: at() }),
    'PID|1||7500001',
    segment('PV1', { 1: '1', 19: 'V7500001' }),
    segment('OBR', { 1: '1', 3: 'L75000001', 7: '20240702071500', 22: '20240702091500' }),
    segment('OBX', { 1: '1', 2: 'NM', 3: '2823-3^POTASSIUM^LN', 5: '5.9', 6: 'mmol/L', 7: '3.5-5.1', 8: 'H', 11: 'F' }),
    segment('OBX', { 1: '2', 2: 'SN', 3: '10839-9^TROPONIN I^LN', 5: '<^0.04', 6: 'ng/mL', 7: '<0.04', 11: 'F' }),
    segment('OBX', { 1: '3', 2: 'ST', 3: 'UCOL^URINE COLOR', 5: 'DARK AMBER', 7: 'YELLOW', 8: 'A', 11: 'P' }),
    segment('OBX', { 1: '4', 2: 'NM', 3: '718-7^HEMOGLOBIN^LN', 5: '13.1', 6: 'g/dL', 7: '13.5-17.5', 8: 'L', 11: 'F' }),
  );
  await scene.sendHl7('results-service', oru);
  await scene.drain();
  await scene.sendHl7(
    'results-service',
    hl7(msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: at() }), 'PID|1||7500001', segment('OBR', { 1: '1', 3: 'L75000001', 7: '20240702071500' }), segment('OBX', { 1: '1', 2: 'NM', 3: '718-7^HEMOGLOBIN^LN', 5: '13.6', 6: 'g/dL', 7: '13.5-17.5', 11: 'C' })),
  );
  await scene.drain();
  // one order number at two patients (placer/filler numbers are unique per facility, not per hospital), with printed precision
  for (const [mrn, value] of [['7500001', '4.0'], ['7500003', '1.00']]) {
    const obr = segment('OBR', { 1: '1', 3: 'DUPORD1', 7: '20240601080000' });
    const obx = segment('OBX', { 1: '1', 2: 'NM', 3: '6690-2^WBC^LN', 5: value!, 6: '10*3/uL', 7: '4.5-11.0', 8: 'L', 11: 'F' });
    await scene.sendHl7('results-service', hl7(msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: at() }), `PID|1||${mrn}`, obr, obx));
  }
  await scene.drain();
}, 120_000);
afterAll(async () => {
  await scene?.close();
});

describe('Patient', () => {
  it('every patient reads as a valid Patient, with what the legacy API says of them', async () => {
    for (const mrn of mrns) {
      const p = await fhir<Resource & { name: { family: string; given: string[] }[]; birthDate: string; gender: string; active: boolean }>(scene.patients.url, `/fhir/Patient/${mrn}`);
      const legacy = JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body) as LegacyPatient;
      if (mrn === mrns[0]) continue; // the survivor of the merge below
      expect(p).toMatchObject({ id: mrn, birthDate: legacy.dateOfBirth, active: legacy.active, name: [{ family: legacy.lastName, given: [legacy.firstName, ...(legacy.middleName ? [legacy.middleName] : [])] }] });
      expect(p.gender).toBe({ M: 'male', F: 'female', U: 'unknown' }[legacy.sex]);
    }
  });

  it('keeps the other PID-3 identifiers, and shows a merge as links both ways', async () => {
    const felix = await fhir<Resource & { identifier: { value: string; system?: string; assigner?: { display: string } }[] }>(scene.patients.url, '/fhir/Patient/7500001');
    expect(felix.identifier.map((i) => [i.value, i.assigner?.display ?? i.system])).toEqual([
      ['7500001', 'http://hospital.example.org/fhir/sid/mrn'],
      ['99-88', 'CLINIC'],
      ['A123456', 'STATEINS'],
    ]);
    expect(felix).toMatchObject({ maritalStatus: { coding: [{ code: 'W' }] }, telecom: [{ value: '309-555-0100' }], address: [{ line: ['1 MAIN ST'], city: 'PEORIA', state: 'IL', postalCode: '61602' }] });
    expect(await fhir(scene.patients.url, '/fhir/Patient/7500002')).toMatchObject({ active: false, link: [{ other: { reference: `Patient/${mrns[0]}` }, type: 'replaced-by' }] });
    expect(await fhir(scene.patients.url, `/fhir/Patient/${mrns[0]}`)).toMatchObject({ link: [{ other: { reference: 'Patient/7500002' }, type: 'replaces' }] });
  });

  it('searches by identifier, family and birthdate, as paged searchset Bundles', async () => {
    expect((await fhir<Bundle>(scene.patients.url, '/fhir/Patient?identifier=A123456')).entry.map((e) => e.resource.id)).toEqual(['7500001']);
    expect((await fhir<Bundle>(scene.patients.url, '/fhir/Patient?identifier=http://hospital.example.org/fhir/sid/mrn|7500001')).total).toBe(1);
    expect((await fhir<Bundle>(scene.patients.url, '/fhir/Patient?identifier=urn:other|7500001')).total).toBe(0);
    const legacy = JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrns[5]}`)).body) as LegacyPatient;
    const byFamily = await fhir<Bundle>(scene.patients.url, `/fhir/Patient?family=${legacy.lastName.slice(0, 2).toLowerCase()}`);
    expect(byFamily.entry.map((e) => e.resource.id)).toContain(legacy.mrn);
    // names beyond ASCII, as HL7 and the legacy's screens write them
    for (const q of ['family=m%C3%BCller', 'family=M%C3%9CL', 'given=j%C3%B6rg']) {
      expect((await fhir<Bundle>(scene.patients.url, `/fhir/Patient?${q}`)).entry.map((e) => e.resource.id), q).toEqual(['7500003']);
    }
    const byBirth = await fhir<Bundle>(scene.patients.url, `/fhir/Patient?birthdate=${legacy.dateOfBirth}`);
    expect(byBirth.entry.map((e) => e.resource.id)).toContain(legacy.mrn);
    const first = await fhir<Bundle>(scene.patients.url, '/fhir/Patient?_count=10');
    expect(first.total).toBe(mrns.length + 3);
    expect(first.entry).toHaveLength(10);
    const next = first.link.find((l) => l.relation === 'next')!.url;
    expect(next).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir\/Patient\?_count=10&_cursor=[\w-]+$/);
    const second = await fhir<Bundle>(scene.patients.url, next.replace(/^.*\/fhir/, '/fhir'));
    expect(second.entry[0]!.resource.id).not.toBe(first.entry[0]!.resource.id);
    expect(second.entry[0]!.fullUrl).toBe(`${scene.patients.url}/fhir/Patient/${second.entry[0]!.resource.id}`);
  });
});

describe('Encounter', () => {
  it("every patient's encounters are valid Encounters of a searchset", async () => {
    for (const mrn of mrns) {
      const entries = await everyEntry(scene.patients.url, `/fhir/Encounter?patient=Patient/${mrn}&_count=2`);
      const legacy = JSON.parse((await ask(scene.legacy.base, `/api/encounters?mrn=${mrn}`)).body) as { items: { admissionId: number; status: string }[] };
      expect(entries.map((e) => [e.resource.id, e.resource.status])).toEqual(legacy.items.map((i) => [String(i.admissionId), i.status === 'ADMITTED' ? 'in-progress' : 'finished']));
    }
  });

  it('an emergency stay, moved and discharged: class, period, the locations it went through, the disposition', async () => {
    const bundle = await fhir<Bundle>(scene.patients.url, '/fhir/Encounter?subject=7500001');
    const e = await fhir<Resource & { location: { location: { display: string }; status: string; period: { start: string; end?: string } }[] }>(scene.patients.url, `/fhir/Encounter/${bundle.entry[0]!.resource.id}`);
    expect(e).toMatchObject({
      status: 'finished',
      class: { code: 'EMER' },
      subject: { reference: 'Patient/7500001' },
      identifier: [{ value: 'V7500001' }],
      participant: [{ individual: { identifier: { value: 'D100' } } }],
      hospitalization: { dischargeDisposition: { coding: [{ system: 'https://www.nubc.org/CodeSystem/PatDischargeStatus', code: '06' }, { code: 'home' }] } },
    });
    expect(e.location.map((l) => [l.location.display, l.status])).toEqual([
      ['EMERGENCY DEPARTMENT', 'completed'],
      ['EMERGENCY DEPARTMENT, bed 1', 'completed'],
      ['CARDIOLOGY / TELEMETRY', 'completed'],
      ['CARDIOLOGY / TELEMETRY, bed 12', 'completed'],
    ]);
    expect(e.location[0]!.period.start).toMatch(/^2024-07-01T06:00:00[+-]\d{2}:\d{2}$/);
    expect(e.location[3]!.period.end).toMatch(/^2024-07-05T10:00:00[+-]\d{2}:\d{2}$/);
  });
});

describe('Observation and DiagnosticReport', () => {
  it("every patient's results are valid Observations, one per legacy result", async () => {
    for (const mrn of mrns.slice(0, 15)) {
      const entries = await everyEntry(scene.results.url, `/fhir/Observation?patient=${mrn}&_count=7`);
      const legacy = JSON.parse((await ask(scene.legacy.base, `/api/results?mrn=${mrn}`)).body) as { items: { resultId: number }[] };
      expect(entries.map((e) => e.resource.id)).toEqual(legacy.items.map((i) => String(i.resultId)));
      await fhir<Bundle>(scene.results.url, `/fhir/DiagnosticReport?patient=${mrn}`);
    }
  });

  it('numbers as valueQuantity (UCUM), comparators, text as valueString, ranges, flags, corrections', async () => {
    const bundle = await fhir<Bundle>(scene.results.url, '/fhir/Observation?subject=Patient/7500001');
    const byCode = (code: string) => bundle.entry.map((e) => e.resource).find((r) => (r.code as { coding: { code: string }[] }).coding[0]!.code === code)!;
    expect(byCode('2823-3')).toMatchObject({
      status: 'final',
      valueQuantity: { value: 5.9, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      referenceRange: [{ low: { value: 3.5 }, high: { value: 5.1 }, text: '3.5-5.1' }],
      interpretation: [{ coding: [{ code: 'H' }] }],
      encounter: { reference: expect.stringMatching(new RegExp(`^${scene.patients.url}/fhir/Encounter/\\d+$`)) },
      effectiveDateTime: expect.stringMatching(/^2024-07-02T07:15:00[+-]\d{2}:\d{2}$/),
      issued: expect.stringMatching(/^2024-07-02T09:15:00[+-]\d{2}:\d{2}$/),
      code: { coding: [{ system: 'http://loinc.org', display: 'POTASSIUM' }] },
    });
    expect(byCode('10839-9')).toMatchObject({ valueQuantity: { value: 0.04, comparator: '<' }, referenceRange: [{ high: { value: 0.04 } }] });
    expect(byCode('UCOL')).toMatchObject({ status: 'preliminary', valueString: 'DARK AMBER', interpretation: [{ coding: [{ code: 'A' }] }], code: { coding: [{ system: 'http://hospital.example.org/fhir/CodeSystem/lab-test' }] } });
    expect(byCode('718-7')).toMatchObject({ status: 'corrected', valueQuantity: { value: 13.6 } });
    expect((await fhir<Bundle>(scene.results.url, '/fhir/Observation?patient=7500001&date=2024-07-02')).total).toBe(4);
    expect((await fhir<Bundle>(scene.results.url, '/fhir/Observation?patient=7500001&date=gt2024-07-02')).total).toBe(0);
    expect((await fhir<Bundle>(scene.results.url, '/fhir/Observation?patient=7500001&date=ge2024-07-02T07:15:00&date=lt2024-07-03')).total).toBe(4);
  });

  it('one DiagnosticReport per order, whose results resolve to the Observations', async () => {
    const reports = await fhir<Bundle>(scene.results.url, '/fhir/DiagnosticReport?patient=7500001');
    expect(reports.entry.map((e) => e.resource.id)).toEqual(['7500001-L75000001', '7500001-DUPORD1']);
    const report = await fhir<Resource & { result: { reference: string }[] }>(scene.results.url, '/fhir/DiagnosticReport/7500001-L75000001');
    expect(report).toMatchObject({ status: 'preliminary', identifier: [{ value: 'L75000001' }], subject: { reference: `${scene.patients.url}/fhir/Patient/7500001` } });
    expect(report.result).toHaveLength(4);
    for (const r of report.result) expect((await fhir(scene.results.url, `/fhir/${r.reference}`)).resourceType).toBe('Observation');
  });
});

describe('errors and capabilities', () => {
  it('answers OperationOutcome for what is unknown or invalid, and a CapabilityStatement', async () => {
    await fhir(scene.patients.url, '/fhir/Patient/0000000', 404);
    await fhir(scene.patients.url, '/fhir/Patient/has%20space', 404);
    await fhir(scene.patients.url, '/fhir/Encounter/abc', 404);
    await fhir(scene.patients.url, '/fhir/Encounter', 400);
    await fhir(scene.patients.url, '/fhir/Patient?birthdate=2024-13-45', 400);
    await fhir(scene.patients.url, '/fhir/Patient?_count=ten', 400);
    await fhir(scene.patients.url, '/fhir/Patient?_count=-1', 400);
    await fhir(scene.patients.url, '/fhir/Nothing', 404);
    await fhir(scene.results.url, '/fhir/Observation', 400);
    await fhir(scene.results.url, '/fhir/Observation?patient=7500001&date=yesterday', 400);
    await fhir(scene.results.url, '/fhir/Observation/999999999', 404);
    await fhir(scene.results.url, '/fhir/DiagnosticReport/NOPE', 404);
    const outcome = await fhir<Resource & { issue: { code: string }[] }>(scene.patients.url, '/fhir/Patient/0000000', 404);
    expect(outcome).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    await fhir(scene.patients.url, '/fhir/metadata');
    await fhir(scene.results.url, '/fhir/metadata');
    expect(checked.resources).toBeGreaterThan(200);
  });
});

describe("a chart shown as it is: one patient's report, the printed precision, searches that never widen", () => {
  type Report = Resource & { subject: { reference: string }; result: { reference: string }[] };
  const patientRef = (mrn: string) => `${scene.patients.url}/fhir/Patient/${mrn}`;

  it("a DiagnosticReport holds only its own patient's results, though order numbers repeat across patients", async () => {
    for (const mrn of ['7500001', '7500003']) {
      const report = await fhir<Report>(scene.results.url, `/fhir/DiagnosticReport/${mrn}-DUPORD1`);
      expect(report).toMatchObject({ id: `${mrn}-DUPORD1`, subject: { reference: patientRef(mrn) } });
      expect(report.result).toHaveLength(1);
      for (const r of report.result) expect(await fhir(scene.results.url, `/fhir/${r.reference}`)).toMatchObject({ subject: { reference: patientRef(mrn) } });
    }
    const both = await fhir<Bundle>(scene.results.url, '/fhir/DiagnosticReport?identifier=DUPORD1');
    expect(both.entry.map((e) => [e.resource.id, (e.resource as Report).subject.reference]).sort()).toEqual([
      ['7500001-DUPORD1', patientRef('7500001')],
      ['7500003-DUPORD1', patientRef('7500003')],
    ]);
    const one = await fhir<Bundle>(scene.results.url, '/fhir/DiagnosticReport?identifier=http://hospital.example.org/fhir/sid/lab-order|DUPORD1&patient=7500003');
    expect(one.entry.map((e) => e.resource.id)).toEqual(['7500003-DUPORD1']);
    expect((await fhir<Bundle>(scene.results.url, '/fhir/DiagnosticReport?identifier=urn:other|DUPORD1')).total).toBe(0);
  });

  it('an old link (the order alone) is sent on to its one report, or offers the choices: never a mix', async () => {
    const ambiguous = await fhir<Resource & { issue: { code: string; diagnostics: string }[] }>(scene.results.url, '/fhir/DiagnosticReport/DUPORD1', 300);
    expect(ambiguous.issue[0]!.code).toBe('multiple-matches');
    expect(ambiguous.issue[0]!.diagnostics).toContain('DiagnosticReport/7500001-DUPORD1, DiagnosticReport/7500003-DUPORD1');
    const moved = await ask(scene.results.url, '/fhir/DiagnosticReport/L75000001', { redirect: 'manual' });
    expect([moved.status, moved.headers.location]).toEqual([302, `${scene.results.url}/fhir/DiagnosticReport/7500001-L75000001`]);
    await fhir(scene.results.url, '/fhir/DiagnosticReport/7500003-L75000001', 404);
  });

  it('an order number that is no FHIR id, and an MRN that is not digits, still give ids that read back', async () => {
    const insert = 'INSERT INTO lab_result (id, mrn, order_number, test_code, test_name, value, status, collected_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)';
    await scene.results.pool.query(insert, ['990000000001', '7500003', 'ORD 9/1', 'NOTE', 'SEE NOTE', 'F', '2024-05-01 08:00:00']);
    await scene.results.pool.query(insert, ['990000000002', 'AB-1', 'ORD 9/1', 'NOTE', 'SEE NOTE', 'F', '2024-05-01 08:00:00']);
    const found = await fhir<Bundle>(scene.results.url, `/fhir/DiagnosticReport?identifier=${encodeURIComponent('ORD 9/1')}`);
    expect(found.entry.map((e) => e.resource.id).sort()).toEqual([expect.stringMatching(/^h-7500003-[0-9a-f]{32}$/), expect.stringMatching(/^h-[0-9a-f]{40}$/)]);
    for (const e of found.entry) {
      const report = await fhir<Report>(scene.results.url, `/fhir/DiagnosticReport/${e.resource.id}`);
      expect(report.result).toEqual([{ reference: `Observation/${e.resource.id.startsWith('h-7500003') ? '990000000001' : '990000000002'}`, display: 'NOTE' }]);
    }
    await scene.results.pool.query('DELETE FROM lab_result WHERE id IN (990000000001, 990000000002)');
  });

  it("a report's result time is the latest instant: infinity after the year 10000, whichever result was collected first", async () => {
    // read oldest collection first, the first result time after 9999 was taken (unsupported) where infinity (unknown) is later
    const insert = 'INSERT INTO lab_result (id, mrn, order_number, test_code, test_name, value, status, collected_at, resulted_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)';
    await scene.results.pool.query(insert, ['990000000003', '7500003', 'ODDTIMES1', 'NOTE', 'SEE NOTE', 'F', '2024-05-01 08:00:00', '10000-01-01 00:00:00']);
    await scene.results.pool.query(insert, ['990000000004', '7500003', 'ODDTIMES1', 'NOTE', 'SEE NOTE', 'F', '2024-05-01 09:00:00', 'infinity']);
    try {
      const report = await fhir<Report>(scene.results.url, '/fhir/DiagnosticReport/7500003-ODDTIMES1');
      expect(report).toMatchObject({ _issued: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } });
      expect(report.effectiveDateTime).toMatch(/^2024-05-01T08:00:00[+-]\d{2}:\d{2}$/);
      const found = await fhir<Bundle>(scene.results.url, '/fhir/DiagnosticReport?identifier=ODDTIMES1');
      expect(found.entry.map((e) => e.resource)).toEqual([report]);
    } finally {
      await scene.results.pool.query('DELETE FROM lab_result WHERE id IN (990000000003, 990000000004)');
    }
  });

  it('decimals keep the digits the laboratory printed (4.0, 1.00, 11.0), as valid JSON numbers', async () => {
    for (const [mrn, value] of [['7500001', '4.0'], ['7500003', '1.00']]) {
      const res = await ask(scene.results.url, `/fhir/Observation?patient=${mrn}&date=2024-06-01`);
      expect(res.status).toBe(200);
      expect(res.body).toContain(`"valueQuantity":{"value":${value},"unit":"10*3/uL"`);
      expect(res.body).toContain('"low":{"value":4.5,');
      expect(res.body).toContain('"high":{"value":11.0,');
      expect(fhirProblems(JSON.parse(res.body))).toEqual([]);
    }
  });

  it('a day that does not exist is a 400 OperationOutcome, not a 500', async () => {
    await fhir(scene.patients.url, '/fhir/Patient?birthdate=1980-02-30', 400);
    await fhir(scene.patients.url, '/fhir/Patient?birthdate=ge1900-02-29', 400);
    await fhir(scene.results.url, '/fhir/Observation?patient=100002&date=ge2024-02-30', 400);
    await fhir(scene.results.url, '/fhir/Observation?patient=7500001&date=ge2024-07-02T25:00', 400);
  });

  it('name searches all name parts; an unsupported parameter is refused, never ignored; two dates make a range', async () => {
    const ids = async (path: string) => (await fhir<Bundle>(scene.patients.url, path)).entry.map((e) => e.resource.id);
    expect(await ids('/fhir/Patient?name=m%C3%BCller')).toEqual(['7500003']);
    // a given name found by `name` (seeded patients may share the prefix: every one found has it)
    const felix = await fhir<Bundle>(scene.patients.url, '/fhir/Patient?name=FELI');
    expect(felix.entry.map((e) => e.resource.id)).toContain('7500001');
    for (const e of felix.entry) expect(JSON.stringify(e.resource.name)).toMatch(/"FELI/);
    expect(await ids('/fhir/Patient?name=NOSUCHNAMEXYZ')).toEqual([]);
    for (const q of ['/fhir/Patient?address=PEORIA', '/fhir/Patient?name=SMITH&phonetic=SMYTHE', '/fhir/Encounter?patient=7500001&status=finished']) {
      expect(await fhir(scene.patients.url, q, 400), q).toMatchObject({ issue: [{ code: 'not-supported' }] });
    }
    expect(await fhir(scene.results.url, '/fhir/Observation?patient=7500001&code=2823-3', 400)).toMatchObject({ issue: [{ code: 'not-supported' }] });
    const born = await fhir<Bundle>(scene.patients.url, '/fhir/Patient?birthdate=ge1979-12-31&birthdate=le1980-01-01');
    expect(born.entry.map((e) => e.resource.id)).toContain('7500001');
    for (const e of born.entry) expect(['1979-12-31', '1980-01-01']).toContain(e.resource.birthDate);
    expect((await fhir<Bundle>(scene.results.url, '/fhir/Observation?patient=7500001&date=ge2024-07-01&date=le2024-07-31')).total).toBe(4);
    const capability = await fhir<Resource & { rest: { resource: { type: string; searchParam: { name: string; type: string }[] }[] }[] }>(scene.patients.url, '/fhir/metadata');
    // reached directly, told no public base: its own resources only
    expect(capability.rest[0]!.resource.map((r) => r.type)).toEqual(['Patient', 'Encounter']);
    const patient = capability.rest[0]!.resource.find((r) => r.type === 'Patient')!;
    expect(Object.fromEntries(patient.searchParam.map((p) => [p.name, p.type]))).toEqual({
      identifier: 'token', name: 'string', family: 'string', given: 'string', birthdate: 'date', _count: 'number', _offset: 'number',
    });
  });

  it("references to patient-service's Patient and Encounter are absolute URLs that resolve", async () => {
    type Referring = Resource & { subject: { reference: string }; encounter?: { reference: string } };
    const observations = (await fhir<Bundle>(scene.results.url, '/fhir/Observation?patient=7500001&date=2024-07-02')).entry.map((e) => e.resource as Referring);
    const observation = observations.find((r) => r.encounter !== undefined)!;
    expect(await fhir('', observation.subject.reference)).toMatchObject({ resourceType: 'Patient', id: '7500001' });
    expect(await fhir('', observation.encounter!.reference)).toMatchObject({ resourceType: 'Encounter', subject: { reference: 'Patient/7500001' } });
  });
});
