/**
 * Mode `dual`, a copy that names its stay by state (no PV1-19: the stay discharged last for A13,
 * the newest open one for A03, A02, A12, A06 and A07) or names one the service no longer has,
 * when the legacy's CDC of its own effect came first. The legacy applied the message to the stay
 * its state named then; the service's state now is the legacy's after the message, and names
 * another stay, whose legacy state predates the message. On the real path, as adt-cancels.test.ts:
 * the legacy's HL7 inbound over MLLP, patient-service's queue, the legacy's CDC.
 *
 * Before the fix each copy below changed that other stay (`applied`, no dead letter; the legacy
 * keeps it as it was, and no CDC would ever correct the service), or, the stay of PV1-19 deleted
 * by the legacy's A11 first, was HL7 204 (a dead letter where nothing was wrong). Now such a
 * copy is judged against the patient's stays as a whole, the legacy's deletes of them included:
 * one of them changed by the legacy at or after the message's time makes it `stale`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pid, pv1 } from '../../examples/legacy-his/test/support/adt-messages.js';
import { ask, hl7Time, type ServiceScene } from '../../test-support/service-scene.js';
import { ago, dualHl7, startDualScene, type DualScene } from './support/dual-hl7.js';

let dual: DualScene;
let scene: ServiceScene;

beforeAll(async () => {
  dual = await startDualScene({ prefix: 'svc_adt_by_state', patients: 6, seed: 7_790 });
  scene = dual.scene;
});
afterAll(async () => {
  await dual?.close();
});

const { adtAt, toLegacy, toBoth, synced: legacyChanges, lateCopy, expectSameConfirmed, serviceDeadLetters } = dualHl7(() => dual);
const admit = (at: string, mrn: string, visit: string, admitted: string, cls = 'I') =>
  adtAt(at, cls === 'E' ? 'A04' : 'A01', pid(mrn, { 5: 'state^stan', 7: '19800215', 8: 'M' }), pv1({ 2: cls, 3: cls === 'E' ? 'ED^^1' : 'MED1^^3', 19: visit, 44: admitted }));

/**
 * An MSH-7 a second after the legacy's last change of the patient's stays as the service holds
 * them, once the legacy's clock has reached it: the stay the service's state names is older than
 * the message (so the stay's own conflict rule lets the copy through), and what the legacy does
 * with the message is not.
 */
async function nowAfterStaysOf(mrn: string): Promise<string> {
  const { rows } = await scene.patients.pool.query<{ t: string }>(
    `SELECT to_char(max(committed_at) + interval '1 second', 'YYYYMMDDHH24MISS') AS t FROM encounter WHERE mrn = $1`,
    [mrn],
  );
  const t = rows[0]!.t;
  await expect
    .poll(async () => (await scene.legacy.pool.query<{ reached: boolean }>(`SELECT date_trunc('second', LOCALTIMESTAMP) >= to_timestamp($1, 'YYYYMMDDHH24MISS')::timestamp AS reached`, [t])).rows[0]!.reached, {
      timeout: 5_000,
      interval: 100,
    })
    .toBe(true);
  return t;
}
/** the same time, `seconds` later (a later message of the same scene) */
const plus = (t: string, seconds: number) => {
  const d = new Date(Number(t.slice(0, 4)), Number(t.slice(4, 6)) - 1, Number(t.slice(6, 8)), Number(t.slice(8, 10)), Number(t.slice(10, 12)), Number(t.slice(12, 14)) + seconds);
  return hl7Time(d);
};

type Stay = { admitDate: string; status: string; admissionType: string; ward: { code: string }; bed: string | null };
/** the service's stays, by admission day (the API shows no visit number) */
const stays = async (mrn: string) =>
  (JSON.parse((await ask(scene.patients.url, `/api/encounters?mrn=${mrn}`)).body) as { items: Stay[] }).items
    .map((s) => ({ admitted: s.admitDate.slice(0, 10), status: s.status, type: s.admissionType, ward: s.ward.code, bed: s.bed }))
    .sort((a, b) => a.admitted.localeCompare(b.admitted));

/** the late copy is stale: recorded so, no dead letter, and the service ends as the legacy */
async function expectStale(message: string, mrn: string): Promise<void> {
  const letters = await serviceDeadLetters();
  expect(await lateCopy(message)).toBe('stale');
  expect(await serviceDeadLetters()).toEqual(letters);
  await expectSameConfirmed(mrn);
}

describe('mode dual, a late copy naming its stay by state, the legacy’s CDC of its effect first: stale, no other stay changed', () => {
  it('A13 without PV1-19: the legacy opened the stay discharged last again; the copy does not open the one discharged before it', async () => {
    const mrn = '7790001';
    await toBoth(admit(ago(50), mrn, 'V7790001A', '202406010800'));
    await toBoth(admit(ago(49), mrn, 'V7790001B', '202406100800'));
    await toBoth(adtAt(ago(48), 'A03', pid(mrn), pv1({ 19: 'V7790001A', 36: '01', 45: '202406120900' })));
    await toBoth(adtAt(ago(47), 'A03', pid(mrn), pv1({ 19: 'V7790001B', 36: '01', 45: '202406150900' })));
    await expectSameConfirmed(mrn);
    const a13 = adtAt(await nowAfterStaysOf(mrn), 'A13', pid(mrn), pv1({ 2: 'I' }));
    await toLegacy(a13);
    await legacyChanges();
    await expectStale(a13, mrn);
    expect((await stays(mrn)).map((s) => [s.admitted, s.status])).toEqual([
      ['2024-06-01', 'DISCHARGED'],
      ['2024-06-10', 'ADMITTED'],
    ]);
  });

  it('A03 without PV1-19: the legacy discharged the newest open stay; the copy does not discharge the older one', async () => {
    const mrn = '7790002';
    await toBoth(admit(ago(50), mrn, 'V7790002A', '202406010800'));
    await toBoth(admit(ago(49), mrn, 'V7790002B', '202406100800'));
    await expectSameConfirmed(mrn);
    const a03 = adtAt(await nowAfterStaysOf(mrn), 'A03', pid(mrn), pv1({ 36: '01', 45: '202406150900' }));
    await toLegacy(a03);
    await legacyChanges();
    await expectStale(a03, mrn);
    expect((await stays(mrn)).map((s) => [s.admitted, s.status])).toEqual([
      ['2024-06-01', 'ADMITTED'],
      ['2024-06-10', 'DISCHARGED'],
    ]);
  });

  it('A02 without PV1-19 (the legacy refuses it), the newest open stay discharged by the legacy since: the copy does not move the older one', async () => {
    const mrn = '7790003';
    await toBoth(admit(ago(50), mrn, 'V7790003A', '202406010800'));
    await toBoth(admit(ago(49), mrn, 'V7790003B', '202406100800'));
    await expectSameConfirmed(mrn);
    const t = await nowAfterStaysOf(mrn);
    const a02 = adtAt(t, 'A02', pid(mrn), pv1({ 3: 'ICU^^1' }));
    await toLegacy(a02, 'AR');
    await toLegacy(adtAt(plus(t, 1), 'A03', pid(mrn), pv1({ 19: 'V7790003B', 36: '01', 45: '202406150900' })));
    await legacyChanges();
    await expectStale(a02, mrn);
    expect(await stays(mrn)).toEqual([
      { admitted: '2024-06-01', status: 'ADMITTED', type: 'I', ward: 'MED1', bed: '3' },
      { admitted: '2024-06-10', status: 'DISCHARGED', type: 'I', ward: 'MED1', bed: '3' },
    ]);
  });

  it('A06 without PV1-19: the legacy changed the newest open visit and discharged it since; the copy does not change the older visit', async () => {
    const mrn = '7790004';
    await toBoth(admit(ago(50), mrn, 'V7790004A', '202406010800', 'E'));
    await toBoth(admit(ago(49), mrn, 'V7790004B', '202406100800', 'E'));
    await expectSameConfirmed(mrn);
    const t = await nowAfterStaysOf(mrn);
    const a06 = adtAt(t, 'A06', pid(mrn), pv1({ 2: 'I', 3: 'MED1^^7' }));
    await toLegacy(a06);
    await toLegacy(adtAt(plus(t, 1), 'A03', pid(mrn), pv1({ 19: 'V7790004B', 36: '01', 45: '202406150900' })));
    await legacyChanges();
    await expectStale(a06, mrn);
    expect(await stays(mrn)).toEqual([
      { admitted: '2024-06-01', status: 'ADMITTED', type: 'E', ward: 'ED', bed: '1' },
      { admitted: '2024-06-10', status: 'DISCHARGED', type: 'I', ward: 'MED1', bed: '7' },
    ]);
  });

  it('A11 of a stay the legacy deleted (its CDC first): stale, not 204 (no stay with this visit number)', async () => {
    const mrn = '7790005';
    await toBoth(admit(ago(50), mrn, 'V7790005A', '202406010800'));
    await toBoth(admit(ago(49), mrn, 'V7790005B', '202406100800'));
    await expectSameConfirmed(mrn);
    const a11 = adtAt(await nowAfterStaysOf(mrn), 'A11', pid(mrn), pv1({ 19: 'V7790005B' }));
    await toLegacy(a11);
    await legacyChanges();
    expect((await stays(mrn)).map((s) => s.admitted)).toEqual(['2024-06-01']);
    await expectStale(a11, mrn);
  });
});
