/**
 * ADT^A12 (cancel transfer) in patient-service, in mode `new` (the legacy inbound does not apply
 * A02 or A12, so only the service holds a transfer to cancel), with the write-back landing in the
 * legacy through the CDC deployable's legacy writer (the shipped mapping), as A02's does.
 *
 * Before 7 December patient-service had no A12 handler (a dead letter, HL7 201): the stay stayed
 * in the ward and bed of the transfer sent in error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { ask, deadLetters, hl7Time } from '../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let client: MllpClient;

beforeAll(async () => {
  wb = await startWritebackScene({ prefix: 'svc_adt_a12', redis: 'own', services: ['patient-service'], patients: 20, seed: 7_760, hl7Inbound: true });
  client = await MllpClient.connect(wb.scene.inbound!.port);
});
afterAll(async () => {
  client?.close();
  await wb?.close();
});

let clock = 0;
/** MSH-7 and EVN-2 of the next message: each a minute after the one before, all after now */
const next = () => new Date(Date.now() + ++clock * 60_000);
const adtAt = (when: Date, event: string, ...segments: string[]) => {
  const at = hl7Time(when);
  return hl7(msh(`ADT^${event}^ADT_${event}`, uniqueControlId(event), { time: at }), `EVN|${event}|${at}`, ...segments);
};
const adt = (event: string, ...segments: string[]) => adtAt(next(), event, ...segments);
const pid = (mrn: string, fields: Record<number, string> = {}) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, ...fields });
const pv1 = (fields: Record<number, string>) => segment('PV1', { 1: '1', ...fields });
const a01 = (mrn: string, visit: string) => adt('A01', pid(mrn, { 5: 'transfer^terry', 7: '19700101', 8: 'M' }), pv1({ 2: 'I', 3: 'MED1^^3', 19: visit, 44: '202407011030' }));
const a02 = (mrn: string, location: string, fields: Record<number, string> = {}) => adt('A02', pid(mrn), pv1({ 3: location, ...fields }));
const controlIdOf = (message: string) => message.split('\r')[0]!.split('|')[9]!;

/** applied by patient-service alone (mode new), its write-back published and landed in the legacy */
async function inModeNew(message: string): Promise<void> {
  const { scene } = wb;
  await scene.sendHl7('patient-service', message, { legacyToo: false });
  await scene.drain();
  await expect.poll(async () => (await scene.patients.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
  await scene.drain();
}

type Stay = { admissionId: number; ward: { code: string }; bed: string | null; lastUpdated: string };
const stays = async (base: string, mrn: string) => (JSON.parse((await ask(base, `/api/encounters?mrn=${mrn}`)).body) as { items: Stay[] }).items;
const placeOf = async (base: string, mrn: string) => (await stays(base, mrn)).map((s) => [s.ward.code, s.bed]);
/** the legacy's stay lands where the service's is (the write-back) */
async function expectLegacyAt(mrn: string, ward: string, bed: string | null): Promise<void> {
  expect(await placeOf(wb.scene.patients.url, mrn)).toEqual([[ward, bed]]);
  await expect.poll(async () => placeOf(wb.scene.legacy.base, mrn), { timeout: 15_000 }).toEqual([[ward, bed]]);
}
/** the FHIR Encounter's locations: ward code (or `bed n`) and status, oldest first */
async function fhirLocations(mrn: string): Promise<string[][]> {
  const [stay] = await stays(wb.scene.patients.url, mrn);
  const encounter = JSON.parse((await ask(wb.scene.patients.url, `/fhir/Encounter/${stay!.admissionId}`)).body) as {
    location: { location: { identifier?: { value: string }; display: string }; status: string }[];
  };
  return encounter.location.map((l) => [l.location.identifier?.value ?? l.location.display.replace(/^.*, (bed .*)$/, '$1'), l.status]);
}
const transfers = async (mrn: string) =>
  (
    await wb.scene.patients.pool.query<{ from_ward_code: string; from_bed: string | null; to_ward_code: string; to_bed: string | null; source: string }>(
      'SELECT t.from_ward_code, t.from_bed, t.to_ward_code, t.to_bed, t.source FROM encounter_transfer t JOIN encounter e ON e.id = t.encounter_id WHERE e.mrn = $1 ORDER BY t.id',
      [mrn],
    )
  ).rows.map((t) => `${t.from_ward_code}/${t.from_bed ?? '-'} > ${t.to_ward_code}/${t.to_bed ?? '-'} (${t.source})`);
const outcomeOf = async (message: string) =>
  (await wb.scene.patients.pool.query<{ outcome: string | null }>('SELECT outcome FROM ficus_hl7_applied WHERE control_id = $1', [controlIdOf(message)])).rows;
const serviceDeadLetters = async () => (await deadLetters(wb.scene.redis)).filter((d) => d.queue.startsWith('hl7.patient-service')).map((d) => d.error);

describe('ADT^A12 in patient-service (mode new)', () => {
  it('A02 then A12 puts the stay back where it was, in the API, in FHIR and (by write-back) in the legacy; the legacy inbound refuses A12 (AR 201)', async () => {
    const mrn = '7760001';
    await inModeNew(a01(mrn, 'V7760001'));
    await inModeNew(a02(mrn, 'ICU^^2', { 19: 'V7760001' }));
    await expectLegacyAt(mrn, 'ICU', '2');

    const cancel = adt('A12', pid(mrn), pv1({ 3: 'MED1^^3', 11: 'ICU^^2', 19: 'V7760001' }));
    expect((await client.request(cancel)).errorCodes).toEqual(['201']);
    await inModeNew(cancel);
    expect(await outcomeOf(cancel)).toEqual([{ outcome: 'applied' }]);
    await expectLegacyAt(mrn, 'MED1', '3');
    expect(await fhirLocations(mrn)).toEqual([
      ['MED1', 'active'],
      ['bed 3', 'active'],
    ]);
    expect(await transfers(mrn)).toEqual([]);
  });

  it('A12 of a stay with no transfer is HL7 207, a dead letter; nothing changes', async () => {
    const mrn = '7760002';
    await inModeNew(a01(mrn, 'V7760002'));
    const before = await stays(wb.scene.patients.url, mrn);
    const cancel = adt('A12', pid(mrn), pv1({ 3: 'ICU^^2', 19: 'V7760002' }));
    await inModeNew(cancel);
    expect(await serviceDeadLetters()).toContainEqual('HL7 207: there is no transfer to cancel: the stay has no transfer recorded');
    expect(await outcomeOf(cancel)).toEqual([]);
    expect(await stays(wb.scene.patients.url, mrn)).toEqual(before);
  });

  it('two A02 then one A12 (without PV1-3 or PV1-19: the open stay, back to where the transfer came from) go back one step', async () => {
    const mrn = '7760003';
    await inModeNew(a01(mrn, 'V7760003'));
    await inModeNew(a02(mrn, 'ICU^^2'));
    await inModeNew(a02(mrn, 'CARD^^12'));
    await expectLegacyAt(mrn, 'CARD', '12');
    await inModeNew(adt('A12', pid(mrn), pv1({ 2: 'I' })));
    await expectLegacyAt(mrn, 'ICU', '2');
    expect(await fhirLocations(mrn)).toEqual([
      ['MED1', 'completed'],
      ['bed 3', 'completed'],
      ['ICU', 'active'],
      ['bed 2', 'active'],
    ]);
    expect(await transfers(mrn)).toEqual(['MED1/3 > ICU/2 (hl7:ADT^A02)']);
  });

  it('an A12 older than the A02 is recorded stale and changes nothing', async () => {
    const mrn = '7760004';
    await inModeNew(a01(mrn, 'V7760004'));
    const earlier = next();
    await inModeNew(a02(mrn, 'ICU^^2', { 19: 'V7760004' }));
    const cancel = adtAt(earlier, 'A12', pid(mrn), pv1({ 3: 'MED1^^3', 19: 'V7760004' }));
    await inModeNew(cancel);
    expect(await outcomeOf(cancel)).toEqual([{ outcome: 'stale' }]);
    await expectLegacyAt(mrn, 'ICU', '2');
    expect(await transfers(mrn)).toEqual(['MED1/3 > ICU/2 (hl7:ADT^A02)']);
  });

  it('an A12 whose PV1-3 differs from where the transfer came from is followed, and the difference recorded as a move', async () => {
    const mrn = '7760005';
    await inModeNew(a01(mrn, 'V7760005'));
    await inModeNew(a02(mrn, 'ICU^^2', { 19: 'V7760005' }));
    await inModeNew(adt('A12', pid(mrn), pv1({ 3: 'SURG^^4', 19: 'V7760005' })));
    await expectLegacyAt(mrn, 'SURG', '4');
    expect(await transfers(mrn)).toEqual(['MED1/3 > SURG/4 (hl7:ADT^A12)']);
    expect(await fhirLocations(mrn)).toEqual([
      ['MED1', 'completed'],
      ['bed 3', 'completed'],
      ['SURG', 'active'],
      ['bed 4', 'active'],
    ]);
  });

  it('an A12 after a later move by an A08 is HL7 207: the A02 is no longer where the stay is', async () => {
    const mrn = '7760006';
    await inModeNew(a01(mrn, 'V7760006'));
    await inModeNew(a02(mrn, 'ICU^^2', { 19: 'V7760006' }));
    await inModeNew(adt('A08', pid(mrn), pv1({ 2: 'I', 3: 'ICU^^5', 19: 'V7760006' })));
    const cancel = adt('A12', pid(mrn), pv1({ 3: 'MED1^^3', 19: 'V7760006' }));
    await inModeNew(cancel);
    expect(await serviceDeadLetters()).toContainEqual(
      'HL7 207: there is no transfer to cancel: the stay was moved since its last transfer (A02) by another message or in the legacy',
    );
    await expectLegacyAt(mrn, 'ICU', '5');
  });
});
