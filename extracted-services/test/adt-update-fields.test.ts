/**
 * HL7's rule for updates in patient-service (hl7/sent-fields.ts): an empty field keeps what is
 * stored, `""` deletes the whole field, a field sent replaces the whole field. Each message goes
 * to patient-service alone, as the HL7 adapter delivers it with `adt-patient-events` in mode
 * `new` (`legacyToo: false`), so what the service applies reaches the legacy by write-back: the
 * real outbox and relay, the CDC deployable's legacy writer (the shipped mapping) on the legacy
 * database. Each test checks the service's row through its legacy-shaped API, its FHIR
 * resource, and the legacy's API once the write-back has landed.
 *
 * Found by a probe on the demo stack: an A08 without PV1-4 made an emergency admission (A01 with
 * PV1-2 I, PV1-4 E) an inpatient one (FHIR class EMER became IMP, the legacy's too by
 * write-back), and `""` in PID-11 deleted the street and kept city, state and ZIP code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { ask, hl7Time, type ServiceScene } from '../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;

beforeAll(async () => {
  wb = await startWritebackScene({ prefix: 'svc_adt_fields', redis: 'own', services: ['patient-service'], patients: 10, seed: 7_730 });
  scene = wb.scene;
});
afterAll(() => wb?.close());

let clock = 0;
/** MSH-7 and EVN-2 of the next message: each a minute after the one before, all after now */
const next = () => hl7Time(new Date(Date.now() + ++clock * 60_000));
function adt(event: string, pid: Record<number, string>, pv1?: Record<number, string>): string {
  const at = next();
  return hl7(msh(`ADT^${event}^ADT_A01`, uniqueControlId(event), { time: at }), `EVN|${event}|${at}`, segment('PID', { 1: '1', ...pid }), ...(pv1 ? [segment('PV1', { 1: '1', ...pv1 })] : []));
}

type Patient = { mrn: string; lastName: string; middleName: string | null; address: Record<string, string | null>; phone: string | null; maritalStatus: string | null; lastUpdated: string } & Record<string, unknown>;
type Stay = { admissionId: number; admissionType: string; ward: { code: string }; bed: string | null; attendingDoctorId: string | null; lastUpdated: string } & Record<string, unknown>;

const json = async <T>(base: string, p: string): Promise<T> => {
  const a = await ask(base, p);
  if (a.status !== 200) throw new Error(`${p}: ${a.status}`);
  return JSON.parse(a.body) as T;
};
const servicePatient = (mrn: string) => json<Patient>(scene.patients.url, `/api/patients/${mrn}`);
const serviceStay = async (mrn: string) => (await json<{ items: Stay[] }>(scene.patients.url, `/api/encounters?mrn=${mrn}`)).items[0]!;

/** applied by patient-service alone (mode new), its write-back published and landed in the legacy */
async function applyInModeNew(message: string): Promise<void> {
  await scene.sendHl7('patient-service', message, { legacyToo: false });
  await scene.drain();
  // (no expect.poll: it runs in beforeAll too)
  for (const end = Date.now() + 10_000; (await scene.patients.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount !== 0; ) {
    if (Date.now() > end) throw new Error('the outbox was not published');
    await new Promise((r) => setTimeout(r, 20));
  }
  await scene.drain();
}
/** the legacy's API answers the patient and their stays as the service does (the write-back landed) */
async function expectLegacyAlike(mrn: string): Promise<void> {
  const paths = [`/api/patients/${mrn}`, `/api/encounters?mrn=${mrn}`];
  const service = await Promise.all(paths.map((p) => json<unknown>(scene.patients.url, p)));
  // the legacy stamps lastUpdated itself: compared without it
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'lastUpdated' || k === 'lastUpdatedBy' || k === 'created' ? undefined : x)));
  await expect.poll(async () => (await Promise.all(paths.map((p) => json<unknown>(scene.legacy.base, p)))).map(strip), { timeout: 15_000 }).toEqual(service.map(strip));
}

describe('the probe: an emergency admission, then an A08 without PV1-4', () => {
  const MRN = '7730001';

  it('the stay stays an emergency one (admissionType E, FHIR class EMER), in the service and by write-back in the legacy', async () => {
    await applyInModeNew(adt('A01', { 3: `${MRN}^^^GENHOSP^MR`, 5: 'EMERG^ED', 7: '19800101', 8: 'M' }, { 2: 'I', 3: 'MED2^01^1A', 4: 'E', 7: 'D2001^SMITH^JOHN', 19: 'V7730001', 44: '20261208105500' }));
    expect(await serviceStay(MRN)).toMatchObject({ admissionType: 'E' });
    await applyInModeNew(
      adt('A08', { 3: `${MRN}^^^GENHOSP^MR`, 5: 'EMERG^ED', 7: '19800101', 8: 'M', 11: '10 NEW ST^^BOSTON^MA^02110' }, { 2: 'I', 3: 'MED2^01^1A', 7: 'D2001^SMITH^JOHN', 19: 'V7730001' }),
    );
    const stay = await serviceStay(MRN);
    expect(stay).toMatchObject({ admissionType: 'E', ward: { code: 'MED2' }, bed: '1A', attendingDoctorId: 'D2001' });
    expect(await json(scene.patients.url, `/fhir/Encounter/${stay.admissionId}`)).toMatchObject({ class: { code: 'EMER' } });
    expect(await servicePatient(MRN)).toMatchObject({ address: { line1: '10 NEW ST', city: 'BOSTON', state: 'MA', zip: '02110' } });
    await expectLegacyAlike(MRN);
    expect((await json<{ items: Stay[] }>(scene.legacy.base, `/api/encounters?mrn=${MRN}`)).items[0]).toMatchObject({ admissionType: 'E' });
  });
});

describe('HL7\'s rule field by field', () => {
  const MRN = '7730002';
  const ID = { 3: `${MRN}^^^GENHOSP^MR` };
  const VISIT = { 19: 'V7730002' };

  beforeAll(async () => {
    await applyInModeNew(
      adt(
        'A01',
        { ...ID, 5: 'FIELD^FRED^FRANK', 7: '19700707', 8: 'M', 11: '1 OLD RD^APT 2^SALEM^MA^01970', 13: '(978)555-0101', 16: 'M' },
        { 2: 'I', 3: 'MED1^12^3B', 4: 'E', 7: 'D4004^PATEL^RAJ', ...VISIT, 44: '20261208090000' },
      ),
    );
  });

  it('"" in PID-11 deletes the whole address: street, city, state and ZIP code; FHIR Patient has no address', async () => {
    await applyInModeNew(adt('A08', { ...ID, 11: '""' }));
    expect(await servicePatient(MRN)).toMatchObject({ lastName: 'FIELD', middleName: 'FRANK', phone: '(978)555-0101', address: { line1: null, city: null, state: null, zip: null } });
    expect(await json<Record<string, unknown>>(scene.patients.url, `/fhir/Patient/${MRN}`)).not.toHaveProperty('address');
    await expectLegacyAlike(MRN);
  });

  it('a message of empty fields changes nothing: not the patient, not the stay (lastUpdated too)', async () => {
    const [patient, stay] = [await servicePatient(MRN), await serviceStay(MRN)];
    await applyInModeNew(adt('A08', { ...ID, 30: '' }, { ...VISIT, 44: '' }));
    expect(await servicePatient(MRN)).toEqual(patient);
    expect(await serviceStay(MRN)).toEqual(stay);
    await expectLegacyAlike(MRN);
  });

  it('a composite sent replaces all of it; "" deletes phone, marital status and attending doctor; PV1-2 I keeps the emergency admission', async () => {
    await applyInModeNew(adt('A08', { ...ID, 5: 'FIELD^FRED', 11: '9 NEW WAY^^BOSTON', 13: '""', 16: '""' }, { 2: 'I', 3: 'ICU', 7: '""', ...VISIT }));
    expect(await servicePatient(MRN)).toMatchObject({
      lastName: 'FIELD',
      firstName: 'FRED',
      middleName: null,
      address: { line1: '9 NEW WAY', city: 'BOSTON', state: null, zip: null },
      phone: null,
      maritalStatus: null,
    });
    const stay = await serviceStay(MRN);
    expect(stay).toMatchObject({ admissionType: 'E', ward: { code: 'ICU' }, bed: null, attendingDoctorId: null });
    const encounter = await json<{ class: { code: string }; location: { location: { display: string }; status: string }[] }>(scene.patients.url, `/fhir/Encounter/${stay.admissionId}`);
    expect(encounter.class.code).toBe('EMER');
    expect(encounter.location.filter((l) => l.status === 'active').map((l) => l.location.display)).toEqual(['INTENSIVE CARE UNIT']);
    await expectLegacyAlike(MRN);
  });

  it('"" in PV1-3 deletes the bed and keeps the ward; PV1-4 alone (PV1-2 empty) changes an elective stay\'s class only to emergency', async () => {
    await applyInModeNew(adt('A08', ID, { 2: 'I', 3: 'MED1^12^3B', 4: 'R', ...VISIT }));
    expect(await serviceStay(MRN)).toMatchObject({ admissionType: 'I', ward: { code: 'MED1' }, bed: '3B' });
    await applyInModeNew(adt('A08', ID, { 3: '""', 4: 'E', ...VISIT }));
    expect(await serviceStay(MRN)).toMatchObject({ admissionType: 'E', ward: { code: 'MED1' }, bed: null });
    await expectLegacyAlike(MRN);
  });
});
