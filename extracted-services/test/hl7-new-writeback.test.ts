/**
 * What a service applies from an HL7 message the legacy did not get (its HL7 rule in mode
 * `new`: the adapter delivers it to the service's queue only, `legacyToo: false`) reaches the
 * legacy database by write-back, whoever holds the record for the HTTP writes (a message the
 * legacy got itself, mode `dual`, is not written back as well: hl7-dual-no-writeback.test.ts).
 *
 * The real path end to end: patient-service and results-service with their outbox and relay,
 * the CDC deployable's legacy writer (the shipped mapping) on the legacy database
 * (support/hl7-writeback.ts). Before 6 December an A01 in mode `new` with `patients-write` still
 * in `legacy` was ACKed and applied by patient-service and never reached the legacy.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { keyText } from '@ficus/contracts';
import { patientTopicRow } from '@ficus/patient-service';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { controlIdOf, hl7WritebackReads, startHl7WritebackScene } from './support/hl7-writeback.js';
import { a01, a08, minutes, oru } from './support/writeback-messages.js';
import type { WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;
let seeded: string[];

beforeAll(async () => {
  ({ wb, scene, seeded } = await startHl7WritebackScene({ prefix: 'svc_hl7_wb', redis: { db: 1 } }));
});
afterAll(() => wb?.close());

const { legacyJson, legacyCount, settled, feedTaken, throughAdapter, queuedJob } = hl7WritebackReads(() => scene);

type Result = { orderNumber: string; value: string; status: string };
/**
 * A record as the legacy shows it beside the service's, with no echo to carry the legacy's stamp
 * back (the scene's CDC runs only when a test syncs it, as with CDC_WRITEBACK_ECHO=drop): the
 * legacy's LAST_UPD_DT trigger stamps a write whose stamp equals the old one (two changes in one
 * second) with the time of the write, so its `lastUpdated` may be later than the service's, by
 * the write-back's delay; every other field is the same.
 */
function expectSameButStamp(legacy: object[] | object, service: object[] | object): void {
  const [l, s] = [legacy, service].map((x) => (Array.isArray(x) ? x : [x]) as { lastUpdated?: unknown }[]);
  const without = (rows: { lastUpdated?: unknown }[]) => rows.map(({ lastUpdated: _, ...rest }) => rest);
  expect(without(l!)).toEqual(without(s!));
  l!.forEach((row, i) => expect(String(row.lastUpdated) >= String(s![i]!.lastUpdated)).toBe(true));
}

describe('HL7 rule in mode new, the write rule in legacy: the legacy gets what the service applied', () => {
  it('an A01 and a later A08 reach the legacy database, the stay once, in order', async () => {
    const mrn = '7400022';
    await scene.sendHl7('patient-service', a01(mrn, 'NEWMODE', 'V7400022', minutes(1)), { legacyToo: false });
    await scene.sendHl7('patient-service', a08(mrn, 'RENAMED', minutes(2)), { legacyToo: false });
    await scene.drain();
    expect(scene.patients.systemOfRecord.current()).toBe('legacy');
    await expect.poll(() => legacyJson(`/api/patients/${mrn}`), { timeout: 15_000 }).toMatchObject({ mrn, lastName: 'RENAMED', firstName: 'ANN' });
    await settled();
    expect(await legacyCount('ADMISSION WHERE VISIT_NO = $1', 'V7400022')).toBe(1);
    expect(await legacyCount('PATIENT_MASTER WHERE PAT_MRN = $1', mrn)).toBe(1);
    // the service's stay is its own (not provisional: no legacy copy will come to confirm it), and the legacy holds it under the same id
    const stay = (await scene.patients.pool.query<{ id: string; provisional: boolean }>('SELECT id, provisional FROM encounter WHERE visit_number = $1', ['V7400022'])).rows;
    expect(stay).toEqual([{ id: expect.any(String), provisional: false }]);
    expect(await legacyCount('ADMISSION WHERE ADM_ID::text = $1', stay[0]!.id)).toBe(1);
    const [legacyStays, serviceStays] = await Promise.all([legacyJson(`/api/encounters?mrn=${mrn}`), ask(scene.patients.url, `/api/encounters?mrn=${mrn}`)]);
    expect(legacyStays).toMatchObject({ mrn, total: 1 });
    expect(legacyStays).toEqual(JSON.parse(serviceStays.body));
  });

  it('an ORU and its correction reach the legacy database, one result with the corrected value', async () => {
    const mrn = seeded[0]!;
    await scene.sendHl7('results-service', oru(mrn, 'L74000001', '5.9', 'F', minutes(1)), { legacyToo: false });
    await scene.sendHl7('results-service', oru(mrn, 'L74000001', '4.2', 'C', minutes(2)), { legacyToo: false });
    await scene.drain();
    expect(scene.results.systemOfRecord.current()).toBe('legacy');
    const ofOrder = async () => ((await legacyJson(`/api/results?mrn=${mrn}`)) as { items: Result[] }).items.filter((r) => r.orderNumber === 'L74000001');
    await expect.poll(ofOrder, { timeout: 15_000 }).toEqual([expect.objectContaining({ value: '4.2', status: 'C' })]);
    await settled();
    expect(await ofOrder()).toHaveLength(1);
    const service = (JSON.parse((await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body) as { items: Result[] }).items.filter((r) => r.orderNumber === 'L74000001');
    expectSameButStamp(await ofOrder(), service);
  });
});

describe('the probe, through the real HL7 adapter', () => {
  it('mode new, the write rule in legacy: an A01 is ACKed AA, applied by patient-service and written back to the legacy', async () => {
    const mrn = '7400044';
    const message = a01(mrn, 'PROBE', 'V7400044', minutes(1));
    await throughAdapter('new', message);
    await expect.poll(() => queuedJob(controlIdOf(message)), { timeout: 10_000 }).toMatchObject({ legacyToo: false });
    await expect.poll(() => legacyJson(`/api/patients/${mrn}`), { timeout: 15_000 }).toMatchObject({ mrn, lastName: 'PROBE' });
    await settled();
    expect(await legacyCount('ADMISSION WHERE VISIT_NO = $1', 'V7400044')).toBe(1);
    expect(await legacyJson(`/api/encounters?mrn=${mrn}`)).toEqual(JSON.parse((await ask(scene.patients.url, `/api/encounters?mrn=${mrn}`)).body));
  });
});

describe('a legacy screen\'s edit reaching the service before the write-back of an HL7 change has landed (the write rule in legacy)', () => {
  type Patient = { mrn: string; lastName: string; phone: string | null } & Record<string, unknown>;
  const servicePatient = async (mrn: string) => JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as Patient;
  const legacyPatient = async (mrn: string) => (await legacyJson(`/api/patients/${mrn}`)) as Patient;
  const published = async (mrn: string) =>
    (await scene.patients.pool.query("SELECT 1 FROM ficus_outbox WHERE topic = 'patients' AND after->>'mrn' = $1 AND published_at IS NULL", [mrn])).rowCount === 0;
  const conflictsOf = async (mrn: string) =>
    (await scene.patients.pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE key = $1 ORDER BY id', [JSON.stringify({ mrn })])).rows.map((r) => r.reason);
  const pending = async (mrn: string) => (await scene.patients.pool.query<{ f: string[] | null }>('SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', [mrn])).rows[0]!.f;

  beforeAll(async () => {
    // what the tests above wrote back, as the CDC reader brings it (CDC_WRITEBACK_ECHO=tag): both sides alike before the races
    await scene.cdc.sync(['patients', 'admissions', 'lab-results'], { origin: 'ficus-writeback' });
    await scene.drain();
  });

  /**
   * The race: the legacy writer held, an A08 in mode new renames the patient in the service; a
   * legacy screen, not knowing the message, saves `edit`, and CDC brings it to the service
   * first; answers the service's patient then, and a function that lets the writer go (the
   * A08's change lands in the legacy after the screen's edit).
   */
  async function race(mrn: string, edit: Partial<Patient>): Promise<{ meanwhile: Patient; release: () => Promise<void> }> {
    await settled();
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
    const positionOf = async () => (await scene.legacy.pool.query<{ p: string }>("SELECT position AS p FROM ficus_writeback_positions WHERE service = 'patient-service' AND topic = 'patients' AND key = $1", [keyText({ mrn })])).rows[0]?.p;
    const was = await positionOf();
    await wb.stopWriter();
    let held = true;
    const release = async () => {
      if (!held) return;
      held = false;
      await wb.startWriter();
      // the writer took the A08's write-back (whatever it left as the legacy has it)
      await expect.poll(async () => (await positionOf()) !== was, { timeout: 15_000 }).toBe(true);
      await settled();
    };
    onTestFinished(release);
    await scene.sendHl7('patient-service', a08(mrn, 'FROMADT', minutes(4)), { legacyToo: false });
    // (scene.drain() would wait for the held write-back queue too)
    await expect.poll(async () => (await servicePatient(mrn)).lastName, { timeout: 10_000 }).toBe('FROMADT');
    expect(scene.patients.systemOfRecord.current()).toBe('legacy');
    await expect.poll(() => published(mrn), { timeout: 10_000 }).toBe(true);
    const screen = await legacyPatient(mrn);
    expect(screen.lastName).not.toBe('FROMADT');
    const put = await fetch(`${scene.legacy.base}/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...screen, ...edit }) });
    expect(put.status).toBe(200);
    await scene.cdc.sync(['patients']);
    await feedTaken('patients');
    return { meanwhile: await servicePatient(mrn), release };
  }

  it('a screen\'s edit of another field: the service keeps the A08\'s change meanwhile, and with the write-back\'s echo both sides end with both edits', async () => {
    const mrn = seeded[2]!;
    const { meanwhile, release } = await race(mrn, { phone: '555-0199' });
    // before 6 December the screen's row replaced the service's whole: the A08's name was gone until the echo came back
    expect(meanwhile).toMatchObject({ lastName: 'FROMADT', phone: '555-0199' });
    expect(await pending(mrn)).toContain('lastName');
    await release();
    await scene.cdc.sync(['patients'], { origin: 'ficus-writeback' });
    await scene.drain();
    const legacy = await legacyPatient(mrn);
    expect(legacy).toMatchObject({ lastName: 'FROMADT', phone: '555-0199' });
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn)).toBeNull(); // the echo confirmed the write-back: whole rows again
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('with CDC_WRITEBACK_ECHO=drop (no echo comes back) both sides still end with both edits, and a later informed screen edit is taken', async () => {
    const mrn = seeded[3]!;
    const { release } = await race(mrn, { phone: '555-0177' });
    await release();
    // the echo is dropped at the source: nothing more reaches the service
    await scene.drain();
    const legacy = await legacyPatient(mrn);
    expect(legacy).toMatchObject({ lastName: 'FROMADT', phone: '555-0177' });
    expectSameButStamp(legacy, await servicePatient(mrn));
    // the screen's next save, on top of the A08's name, as CDC brings it (the stand-in's own diff would start before the dropped echo)
    const put = await fetch(`${scene.legacy.base}/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...legacy, lastName: 'INFORMED' }) });
    expect(put.status).toBe(200);
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, patientTopicRow(legacy as never), patientTopicRow((await legacyPatient(mrn)) as never))]);
    await scene.drain();
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
    expect((await servicePatient(mrn)).lastName).toBe('INFORMED');
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('a screen\'s edit of the same field, made without the A08\'s value: the legacy, holding the record, keeps it on both sides (the write-back leaves it), a conflict naming the field', async () => {
    const mrn = seeded[4]!;
    const { meanwhile, release } = await race(mrn, { lastName: 'SCREENNAME', phone: '555-0166' });
    // until 7 December the service kept FROMADT and the write-back wrote it over the screen's save
    expect(meanwhile).toMatchObject({ lastName: 'SCREENNAME', phone: '555-0166' });
    expect(await conflictsOf(mrn)).toEqual([expect.stringContaining('the legacy, which holds the record, kept its own lastName')]);
    expect(await pending(mrn)).not.toContain('lastName');
    await release();
    await scene.cdc.sync(['patients'], { origin: 'ficus-writeback' });
    await scene.drain();
    const legacy = await legacyPatient(mrn);
    expect(legacy).toMatchObject({ lastName: 'SCREENNAME', phone: '555-0166' });
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn) ?? []).toEqual([]);
  });
});

describe('a legacy screen\'s edit of a result reaching results-service before the write-back of an ORU has landed (the write rule in legacy)', () => {
  type LabResult = { resultId: number; orderNumber: string; value: string | null; referenceRange: string | null; status: string; lastUpdated: string } & Record<string, unknown>;
  const resultOf = (list: unknown, order: string) => (list as { items: LabResult[] }).items.find((r) => r.orderNumber === order)!;
  const serviceResult = async (mrn: string, order: string) => resultOf(JSON.parse((await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body), order);
  const legacyResult = async (mrn: string, order: string) => resultOf(await legacyJson(`/api/results?mrn=${mrn}`), order);
  /** the result but its stamp (the legacy's trigger stamps a write-back whose stamp equals the old one: only the echo brings that) */
  const data = ({ lastUpdated: _, ...rest }: LabResult) => rest;
  const q = async <T extends pg.QueryResultRow>(sql: string, id: number) => (await scene.results.pool.query<T>(sql, [String(id)])).rows;
  const conflictsOf = async (id: number) =>
    (await q<{ reason: string }>("SELECT reason FROM ficus_change_conflicts WHERE topic = 'lab-results' AND key::jsonb->>'resultId' = $1 ORDER BY id", id)).map((r) => r.reason);
  const pending = async (id: number) => (await q<{ f: string[] | null }>('SELECT local_changed_fields AS f FROM lab_result WHERE id = $1', id))[0]!.f;
  const versions = (id: number) => q('SELECT value, status, reference_range AS "referenceRange", replaced_by AS "replacedBy" FROM lab_result_version WHERE result_id = $1 ORDER BY id', id);
  const published = async (order: string) =>
    (await scene.results.pool.query("SELECT 1 FROM ficus_outbox WHERE topic = 'lab-results' AND after->>'orderNumber' = $1 AND published_at IS NULL", [order])).rowCount === 0;

  /**
   * The race: an ORU in mode new files a potassium of 5.9, written back (both sides alike); then,
   * the legacy writer held, its correction to 4.2 is applied by results-service; a legacy screen,
   * not knowing it, saves `edit` (LAB_RESULT columns) on the result, and CDC brings it to the
   * service first. Answers the result's id, the service's result then, and a function that lets
   * the writer go (the correction lands in the legacy after the screen's edit).
   */
  async function race(mrn: string, order: string, edit: Record<string, string>): Promise<{ id: number; meanwhile: LabResult; release: () => Promise<void> }> {
    await scene.sendHl7('results-service', oru(mrn, order, '5.9', 'F', minutes(5)), { legacyToo: false });
    await expect.poll(async () => (await legacyResult(mrn, order))?.value, { timeout: 15_000 }).toBe('5.9');
    await settled();
    await scene.cdc.sync(['lab-results'], { origin: 'ficus-writeback' });
    await scene.drain();
    const filed = await legacyResult(mrn, order);
    expect(await serviceResult(mrn, order)).toEqual(filed);
    await wb.stopWriter();
    let held = true;
    const release = async () => {
      if (!held) return;
      held = false;
      await wb.startWriter();
      await expect.poll(async () => (await legacyResult(mrn, order)).status, { timeout: 15_000 }).toBe('C');
      await settled();
    };
    onTestFinished(release);
    await scene.sendHl7('results-service', oru(mrn, order, '4.2', 'C', minutes(6)), { legacyToo: false });
    await expect.poll(async () => (await serviceResult(mrn, order)).value, { timeout: 10_000 }).toBe('4.2');
    await expect.poll(() => published(order), { timeout: 10_000 }).toBe(true);
    expect((await legacyResult(mrn, order)).value).toBe('5.9');
    const set = Object.keys(edit).map((column, i) => `${column} = $${i + 2}`);
    await scene.legacy.pool.query(`UPDATE LAB_RESULT SET ${set.join(', ')} WHERE RESULT_ID = $1`, [filed.resultId, ...Object.values(edit)]);
    await scene.cdc.sync(['lab-results']);
    await feedTaken('lab-results');
    return { id: filed.resultId, meanwhile: await serviceResult(mrn, order), release };
  }

  it('a screen\'s edit of another field: the service keeps the correction meanwhile, the write-back leaves the screen\'s edit in the legacy, both sides end with both', async () => {
    const mrn = seeded[0]!;
    expect(scene.results.systemOfRecord.current()).toBe('legacy');
    const { id, meanwhile, release } = await race(mrn, 'L74000003', { REF_RANGE: '3.4-5.3' });
    // before 7 December the screen's row replaced the service's whole: the correction was gone until the echo came back
    expect(meanwhile).toMatchObject({ value: '4.2', status: 'C', referenceRange: '3.4-5.3' });
    expect(await pending(id)).toEqual(expect.arrayContaining(['value', 'status']));
    await release();
    // the write-back set only what the correction changed (before 7 December the whole row: the screen's range gone from both sides)
    expect(await legacyResult(mrn, 'L74000003')).toMatchObject({ value: '4.2', status: 'C', referenceRange: '3.4-5.3' });
    // with CDC_WRITEBACK_ECHO=drop nothing more comes: both sides already hold both edits
    expect(data(await serviceResult(mrn, 'L74000003'))).toEqual(data(await legacyResult(mrn, 'L74000003')));
    await scene.cdc.sync(['lab-results'], { origin: 'ficus-writeback' });
    await scene.drain();
    expect(await serviceResult(mrn, 'L74000003')).toEqual(await legacyResult(mrn, 'L74000003'));
    expect(await pending(id)).toBeNull(); // the echo confirmed the write-back: whole rows again
    expect(await conflictsOf(id)).toEqual([]);
    // the first value replaced by the correction, the correction's by the screen's range: no version of a row that never was
    expect(await versions(id)).toEqual([
      { value: '5.9', status: 'F', referenceRange: '3.5-5.1', replacedBy: 'hl7:ORU^R01' },
      { value: '4.2', status: 'C', referenceRange: '3.5-5.1', replacedBy: 'cdc' },
    ]);
  });

  it('a screen\'s edit of the value, made without the correction\'s: the legacy, holding the record, keeps its value on both sides (the write-back leaves it, writes the status), a conflict naming the value', async () => {
    const mrn = seeded[0]!;
    const { id, meanwhile, release } = await race(mrn, 'L74000004', { RESULT_VAL: '6.3', REF_RANGE: '3.3-5.4' });
    // until 7 December the service kept 4.2 and the write-back wrote it over the screen's save
    expect(meanwhile).toMatchObject({ value: '6.3', status: 'C', referenceRange: '3.3-5.4' });
    expect(await conflictsOf(id)).toEqual([expect.stringContaining('the legacy, which holds the record, kept its own value')]);
    await release();
    await scene.cdc.sync(['lab-results'], { origin: 'ficus-writeback' });
    await scene.drain();
    const legacy = await legacyResult(mrn, 'L74000004');
    expect(legacy).toMatchObject({ value: '6.3', status: 'C', referenceRange: '3.3-5.4' });
    expect(await serviceResult(mrn, 'L74000004')).toEqual(legacy);
  });

  describe('results-service holding the record (RESULTS_SERVICE_SYSTEM_OF_RECORD=service): the echo is not applied, it ends the pending state', () => {
    beforeAll(() => scene.restart('results', 'service'));
    afterAll(() => scene.restart('results', 'legacy'));

    it('a screen\'s edit of the value and the range, committed after the correction: the range taken, the correction\'s value kept (a conflict); both sides end alike', async () => {
      const mrn = seeded[0]!;
      expect(scene.results.systemOfRecord.current()).toBe('service');
      const { id, meanwhile, release } = await race(mrn, 'L74000005', { RESULT_VAL: '6.3', REF_RANGE: '3.3-5.4' });
      // before 7 December the screen's row, committed after the correction, replaced it whole: 6.3 in the service, 4.2 in the legacy once written back
      expect(meanwhile).toMatchObject({ value: '4.2', status: 'C', referenceRange: '3.3-5.4' });
      expect(await conflictsOf(id)).toEqual([expect.stringContaining('kept its own value')]);
      await release();
      await scene.cdc.sync(['lab-results'], { origin: 'ficus-writeback' });
      await scene.drain();
      const legacy = await legacyResult(mrn, 'L74000005');
      expect(legacy).toMatchObject({ value: '4.2', status: 'C', referenceRange: '3.3-5.4' });
      expect(await serviceResult(mrn, 'L74000005')).toEqual(legacy);
      expect(await pending(id)).toEqual([]);
    });
  });
});
