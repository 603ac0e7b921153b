/**
 * The same HL7 message to the legacy inbound (over MLLP) and to the service (a job on its
 * queue, as the HL7 adapter puts it in mode dual): both APIs then answer alike. First from the
 * message alone (the service's early, provisional copy: the ids it gave new rows and the
 * times it wrote them aside), then, once the legacy's committed changes came through CDC,
 * byte for byte. Covers registration, admission, updates of demographics and stays,
 * discharges, merges (and a later message naming the merged-away MRN), results with
 * preliminary, final, corrected and withdrawn versions, and the transfer (A02) the legacy
 * does not apply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, hl7Time, startServiceScene, type Answer, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let client: MllpClient;
let seeded: string[];

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_hl7', redisDb: 12, patients: 120, seed: 7_707, hl7Inbound: true });
  await scene.cdc.snapshot();
  await scene.drain();
  client = await MllpClient.connect(scene.inbound!.port);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 5`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  client?.close();
  await scene?.close();
});

/**
 * MSH-7: the sending system's clock, a minute ahead of the legacy database's. The conflict rule
 * compares a message's time with the legacy's last commit of a row (to the second); a sender
 * writing in the very second the legacy committed the previous message would have its early
 * copy skipped (and CDC bring the change instead), which this test does not want to depend on.
 */
const sent = () => hl7Time(new Date(Date.now() + 60_000));
const adt = (event: string, ...segments: string[]) => hl7(msh(`ADT^${event}^ADT_${event}`, uniqueControlId(event), { time: sent() }), `EVN|${event}|${sent()}`, ...segments);
const oru = (mrn: string, ...segments: string[]) => hl7(msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: sent() }), `PID|1||${mrn}`, ...segments);
const pid = (mrn: string, fields: Record<number, string> = {}) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, ...fields });
const pv1 = (fields: Record<number, string>) => segment('PV1', { 1: '1', ...fields });
const obr = (order: string, collected = '20240701061500', reported = '20240701090000') => segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'PANEL^PANEL', 7: collected, 22: reported });
const obx = (n: number, type: string, test: string, value: string, units: string, range: string, flag: string, status: string) =>
  segment('OBX', { 1: String(n), 2: type, 3: test, 5: value, 6: units, 7: range, 8: flag, 11: status });

/** the message to both; both must accept it */
async function toBoth(service: 'patient-service' | 'results-service', message: string): Promise<void> {
  const ack = await client.request(message);
  expect(ack.code, `legacy ACK ${ack.errorCodes.join(',')}`).toBe('AA');
  await scene.sendHl7(service, message);
  await scene.drain();
}

const paths = (mrn: string) => [
  ['patients', `/api/patients/${mrn}`],
  ['patients', `/api/encounters?mrn=${mrn}`],
  ['results', `/api/results?mrn=${mrn}`],
] as const;

/** what a provisional copy cannot know yet: the legacy's ids and commit times */
function provisional(a: Answer): unknown {
  const body = a.body ? (JSON.parse(a.body) as unknown) : null;
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).filter(([k]) => !['created', 'lastUpdated', 'admissionId', 'resultId'].includes(k)).map(([k, x]) => [k, strip(x)]));
    }
    return v;
  };
  return { status: a.status, contentType: a.headers['content-type'], body: strip(body) };
}

async function answers(mrns: string[], only?: 'patients' | 'results'): Promise<{ legacy: Answer[]; service: Answer[]; what: string[] }> {
  const list = mrns.flatMap(paths).filter(([t]) => !only || t === only);
  const legacy = await Promise.all(list.map(([, p]) => ask(scene.legacy.base, p)));
  const service = await Promise.all(list.map(([t, p]) => ask(t === 'patients' ? scene.patients.url : scene.results.url, p)));
  return { legacy, service, what: list.map(([, p]) => p) };
}

/** after the message alone: the same but for the ids and times of the service's early copy */
async function expectSameEarly(mrns: string[], only?: 'patients' | 'results'): Promise<void> {
  const a = await answers(mrns, only);
  expect(a.service.map(provisional)).toEqual(a.legacy.map(provisional));
}

/** after the legacy's changes came through CDC: byte for byte */
async function expectSameConfirmed(mrns: string[]): Promise<void> {
  await scene.cdc.sync();
  await scene.drain();
  const a = await answers(mrns);
  expect(a.service).toEqual(a.legacy);
}

describe('ADT', () => {
  const NEW = '7200001';
  const ADMITTED = '7200002';

  it('A04 registers a patient (no visit), A01 registers and admits another', async () => {
    await toBoth('patient-service', adt('A04', pid(NEW, { 5: 'nguyen^thi^b', 7: '19700304', 8: 'F', 11: '4 elm st^^decatur^il^62521', 13: '^^^^^217^5550199', 16: 'B' }), pv1({ 2: 'N' })));
    await toBoth(
      'patient-service',
      adt('A01', pid(ADMITTED, { 5: "o'brien^sean", 7: '19550101', 8: 'M', 30: '' }), pv1({ 2: 'I', 3: 'MED1^12^3b', 4: 'E', 7: 'D10007^HOUSE', 19: 'V7200002', 44: '202407011030' })),
    );
    await expectSameEarly([NEW, ADMITTED]);
    await expectSameConfirmed([NEW, ADMITTED]);
  });

  it('A08 updates demographics ("" clears, empty keeps) and the stay of PV1-19', async () => {
    await toBoth('patient-service', adt('A08', pid(ADMITTED, { 5: "o'brien^sean^p", 11: '""', 13: '(217)555-0000', 16: 'M' }), pv1({ 3: 'ICU^^7', 7: 'D20001', 19: 'V7200002' })));
    await toBoth('patient-service', adt('A08', pid(seeded[0]!, { 5: 'renamed^by^hl7', 8: 'X' })));
    await expectSameEarly([ADMITTED, seeded[0]!]);
    await expectSameConfirmed([ADMITTED, seeded[0]!]);
  });

  it('A08 with another identifier before the MRN in PID-3 changes the patient of the repetition typed MR, on both sides', async () => {
    // the first repetition is another patient's MRN typed as a national id: read as the MRN, it would rename the wrong chart
    const [mrn, other] = [seeded[3]!, seeded[4]!];
    const before = JSON.parse((await ask(scene.legacy.base, `/api/patients/${other}`)).body) as { lastName: string };
    // the whole name (`""`: no middle name): a name sent replaces all of it in patient-service, where the legacy inbound keeps a middle name not sent
    await toBoth('patient-service', adt('A08', pid(mrn, { 3: `${other}^^^SSA^SS~${mrn}^^^GENHOSP^MR`, 5: 'typed^mr^""' })));
    await expectSameEarly([mrn, other]);
    await expectSameConfirmed([mrn, other]);
    expect(JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: 'TYPED', firstName: 'MR' });
    expect(JSON.parse((await ask(scene.legacy.base, `/api/patients/${other}`)).body)).toMatchObject({ lastName: before.lastName });
  });

  it('A03 discharges the stay of PV1-19, and without PV1-19 the newest open stay', async () => {
    await toBoth('patient-service', adt('A03', pid(ADMITTED), pv1({ 19: 'V7200002', 36: '1', 45: '202407031200' })));
    await toBoth('patient-service', adt('A01', pid(seeded[1]!), pv1({ 2: 'O', 3: 'OPD' })));
    await expectSameEarly([ADMITTED, seeded[1]!]);
    await expectSameConfirmed([seeded[1]!]);
    await toBoth('patient-service', adt('A03', pid(seeded[1]!), pv1({ 36: '20' })));
    await expectSameEarly([ADMITTED, seeded[1]!]);
    await expectSameConfirmed([ADMITTED, seeded[1]!]);
  });

  it('A02 moves the stay and keeps the transfer (the legacy does not apply A02: AR 201)', async () => {
    await toBoth('patient-service', adt('A01', pid(seeded[2]!), pv1({ 2: 'I', 3: 'SURG^^4', 19: 'V-TRANSFER-1', 44: '202407010800' })));
    await expectSameConfirmed([seeded[2]!]);
    const message = adt('A02', pid(seeded[2]!), pv1({ 3: 'ICU^^2', 6: 'SURG^^4', 19: 'V-TRANSFER-1' }));
    expect((await client.request(message)).errorCodes).toEqual(['201']);
    await scene.sendHl7('patient-service', message);
    await scene.drain();
    const stays = JSON.parse((await ask(scene.patients.url, `/api/encounters?mrn=${seeded[2]}`)).body) as { items: { admissionId: number; ward: { code: string }; bed: string }[] };
    const stay = stays.items.find((s) => s.ward.code === 'ICU')!;
    expect(stay).toMatchObject({ ward: { code: 'ICU' }, bed: '2' });
    const encounter = JSON.parse((await ask(scene.patients.url, `/fhir/Encounter/${stay.admissionId}`)).body) as { location: { location: { display: string }; status: string }[] };
    expect(encounter.location.map((l) => [l.location.display, l.status])).toEqual([
      ['SURGICAL WARD', 'completed'],
      ['SURGICAL WARD, bed 4', 'completed'],
      ['INTENSIVE CARE UNIT', 'active'],
      ['INTENSIVE CARE UNIT, bed 2', 'active'],
    ]);
  });
});

describe('ORU^R01', () => {
  const MRN = '7200002';

  it('stores results as printed: numbers, structured numbers, coded and text values, flags, the stay of PV1-19', async () => {
    await toBoth(
      'results-service',
      oru(
        MRN,
        pv1({ 19: 'V7200002' }),
        obr('L72000001'),
        obx(1, 'NM', '2345-7^GLUCOSE^LN', '612', 'mg/dL', '70-99', 'HH', 'F'),
        obx(2, 'SN', '10839-9^TROPONIN I^LN', '<^0.04', 'ng/mL', '<0.04', 'N', 'F'),
        obx(3, 'CWE', '600-7^BLOOD CULTURE^LN', '3092008^Staphylococcus aureus^SCT', '', 'NO GROWTH', 'AA', 'P'),
        obx(4, 'ST', '5778-6^URINE COLOR^LN', 'YELLOW', '', 'YELLOW', 'N', 'P'),
        obx(5, 'RP', '11502-2^REPORT^LN', 'http://x', '', '', '', 'F'),
      ),
    );
    await expectSameEarly([MRN], 'results');
    await expectSameConfirmed([MRN]);
  });

  it('a final result replaces the preliminary one, a correction replaces the final, W withdraws', async () => {
    await toBoth('results-service', oru(MRN, obr('L72000001'), obx(1, 'CWE', '600-7^BLOOD CULTURE^LN', '^NO GROWTH AT 5 DAYS', '', 'NO GROWTH', 'N', 'F')));
    await expectSameEarly([MRN], 'results');
    await expectSameConfirmed([MRN]);
    await toBoth('results-service', oru(MRN, obr('L72000001'), obx(1, 'NM', '2345-7^GLUCOSE^LN', '61.2', 'mg/dL', '70-99', 'L', 'C')));
    await toBoth('results-service', oru(MRN, obr('L72000001'), obx(1, 'ST', '5778-6^URINE COLOR^LN', '', '', '', '', 'W')));
    await expectSameEarly([MRN], 'results');
    await expectSameConfirmed([MRN]);
    // the corrected result keeps its earlier version
    const { rows } = await scene.results.pool.query<{ value: string; status: string }>(
      `SELECT v.value, v.status FROM lab_result_version v JOIN lab_result r ON r.id = v.result_id WHERE r.order_number = 'L72000001' AND r.test_code = '2345-7' ORDER BY v.id`,
    );
    expect(rows[0]).toEqual({ value: '612', status: 'F' });
  });

  it('A40 merges: stays move at once, results with the legacy\'s CDC, and a later result for the merged-away MRN goes to the survivor', async () => {
    const SURVIVOR = '7200001';
    await toBoth('patient-service', adt('A40', pid(SURVIVOR), segment('MRG', { 1: `${MRN}^^^GENHOSP^MR` })));
    await expectSameEarly([SURVIVOR, MRN], 'patients');
    await expectSameConfirmed([SURVIVOR, MRN]);
    await toBoth('results-service', oru(MRN, obr('L72000002'), obx(1, 'NM', '2345-7^GLUCOSE^LN', '88', 'mg/dL', '70-99', '', 'F')));
    await expectSameEarly([SURVIVOR, MRN], 'results');
    await expectSameConfirmed([SURVIVOR, MRN]);
    const survivor = JSON.parse((await ask(scene.results.url, `/api/results?mrn=${SURVIVOR}`)).body) as { items: { orderNumber: string }[] };
    expect(survivor.items.map((r) => r.orderNumber)).toContain('L72000002');
  });
});
