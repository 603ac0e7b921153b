/**
 * Two HL7 changes of one patient in mode `new` while the legacy holds the record (patients-write
 * in `legacy`): patient-service applies each and writes it back; the legacy's copy of each
 * write-back comes back through CDC (its echo, origin ficus-writeback). When the first
 * write-back's echo is read after the second message was applied (the second write-back slow,
 * held or lost), it must not put the first message's values back in patient-service. Before 7
 * December it was applied whole: a nurse reading through patient-service saw the older
 * demographics until the second echo came, and for good when that write-back never landed.
 *
 * The real parts: patient-service with its outbox and relay, the CDC deployable's legacy writer
 * (the shipped mapping) on the legacy database, held by stopping it; the CDC reader's side is
 * the stand-in (test-support/legacy-cdc.ts), so each echo arrives exactly when the test reads it.
 * A Redis of this file's own: every database of the shared one is some other file's.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { keyText, partitionOf, partitionQueueName, type ChangeBatch } from '@ficus/contracts';
import { writebackQueuePrefix } from '@ficus/contracts/queues';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { ask, hl7Time, type ServiceScene } from '../../test-support/service-scene.js';
import { a01, a08, minutes } from './support/writeback-messages.js';
import { startWritebackScene, syncedInto, type WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;
let mrns: string[];

beforeAll(async () => {
  // the services hold the record from the environment: `legacy`, as with patients-write in mode legacy
  wb = await startWritebackScene({ prefix: 'svc_wb_echoes', redis: 'own', services: ['patient-service'], patients: 10, seed: 7_450 });
  scene = wb.scene;
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 4');
  mrns = rows.map((r) => r.pat_mrn);
});
afterAll(() => wb?.close());

const phoneA08 = (mrn: string, phone: string, at: Date) =>
  hl7(msh('ADT^A08^ADT_A01', uniqueControlId('A08'), { time: hl7Time(at) }), `EVN|A08|${hl7Time(at)}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 13: phone }));

type Patient = { mrn: string; lastName: string; phone: string | null } & Record<string, unknown>;
const legacyJson = async (p: string) => {
  const a = await ask(scene.legacy.base, p);
  return a.status === 200 ? (JSON.parse(a.body) as unknown) : a.status;
};
const servicePatient = async (mrn: string) => JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as Patient;
const legacyPatient = async (mrn: string) => (await legacyJson(`/api/patients/${mrn}`)) as Patient;
const published = async (mrn: string) =>
  (await scene.patients.pool.query("SELECT 1 FROM ficus_outbox WHERE topic = 'patients' AND after->>'mrn' = $1 AND published_at IS NULL", [mrn])).rowCount === 0;
const conflictsOf = async (mrn: string) =>
  (await scene.patients.pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE key = $1 ORDER BY id', [JSON.stringify({ mrn })])).rows.map((r) => r.reason);
const pending = async (mrn: string) => (await scene.patients.pool.query<{ f: string[] | null }>('SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', [mrn])).rows[0]!.f;
/** everything patient-service handed to its outbox is published and written to the legacy */
async function settled(): Promise<void> {
  await expect.poll(async () => (await scene.patients.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
  await scene.drain();
}

describe('the echo of the first write-back read after the second message was applied (HL7 rule in new, the write rule in legacy)', () => {
  /** what the legacy committed since the last sync reaches the service and is applied (each change's position taken) */
  const synced = (o: { origin?: string } = {}) => syncedInto(scene, 'patients', scene.patients.pool, o);
  /** what the legacy writer made of the write-backs so far, as the CDC reader brings it (CDC_WRITEBACK_ECHO=tag) */
  const echo = () => synced({ origin: 'ficus-writeback' });

  /**
   * The first message is applied and written back (the legacy holds it, its echo not yet read);
   * then the legacy writer is held and the second is applied in the service (it `shows` there):
   * its write-back waits. Answers a function that lets the writer go and waits for the legacy
   * to hold what `landed` looks for (by default, the second message's change).
   */
  async function secondHeld(mrn: string, first: string, second: string, shows: (p: Patient) => boolean): Promise<(landed?: (p: Patient) => boolean) => Promise<void>> {
    await settled();
    await echo();
    const was = await legacyJson(`/api/patients/${mrn}`);
    if (was !== 404) expect(await servicePatient(mrn)).toEqual(was);
    await scene.sendHl7('patient-service', first, { legacyToo: false });
    await scene.drain(); // applied, its outbox row written
    await settled(); // published and written to the legacy
    await wb.stopWriter();
    let held = true;
    const release = async (landed = shows) => {
      if (!held) return;
      held = false;
      await wb.startWriter();
      await expect.poll(async () => landed(await legacyPatient(mrn)), { timeout: 15_000 }).toBe(true);
      await settled();
    };
    onTestFinished(() => release());
    await scene.sendHl7('patient-service', second, { legacyToo: false });
    await expect.poll(async () => shows(await servicePatient(mrn)), { timeout: 10_000 }).toBe(true);
    expect(shows(await legacyPatient(mrn))).toBe(false);
    await expect.poll(() => published(mrn), { timeout: 10_000 }).toBe(true);
    expect(scene.patients.systemOfRecord.current()).toBe('legacy');
    return release;
  }

  it('two renames: the first one\'s echo leaves the second name in the service, the second one\'s echo ends the pending state', async () => {
    const mrn = mrns[0]!;
    const release = await secondHeld(mrn, a08(mrn, 'ECHOFIRST', minutes(5)), a08(mrn, 'ECHOSECOND', minutes(6)), (p) => p.lastName === 'ECHOSECOND');
    expect((await legacyPatient(mrn)).lastName).toBe('ECHOFIRST');
    await echo();
    // before 7 December the echo was applied whole: the service showed ECHOFIRST until the second write-back's echo came back
    expect((await servicePatient(mrn)).lastName).toBe('ECHOSECOND');
    expect(await pending(mrn)).toContain('lastName');
    await release();
    await echo();
    const legacy = await legacyPatient(mrn);
    expect(legacy.lastName).toBe('ECHOSECOND');
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn)).toBeNull();
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('a rename then a new phone, a screen\'s edit committed between the two write-backs: the service keeps the phone and takes the screen\'s edit; both sides end with all three', async () => {
    const mrn = mrns[1]!;
    const release = await secondHeld(mrn, a08(mrn, 'ECHORENAMED', minutes(5)), phoneA08(mrn, '555-0142', minutes(6)), (p) => p.phone === '555-0142');
    await echo();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'ECHORENAMED', phone: '555-0142' });
    // a screen, on top of the rename it shows, changes the address; the phone's write-back still held
    const screen = await legacyPatient(mrn);
    const put = await fetch(`${scene.legacy.base}/api/patients/${mrn}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...screen, address: { ...(screen.address as object), line1: '12 ECHO LANE' } }),
    });
    expect(put.status).toBe(200);
    await synced();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'ECHORENAMED', phone: '555-0142', address: { line1: '12 ECHO LANE' } });
    await release();
    await echo();
    const legacy = await legacyPatient(mrn);
    expect(legacy).toMatchObject({ lastName: 'ECHORENAMED', phone: '555-0142', address: { line1: '12 ECHO LANE' } });
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn)).toBeNull();
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('an A01 registering a patient, then an A08 renaming them before the registration\'s echo came back: the echo (a create) leaves the new name', async () => {
    const mrn = '7400077';
    const release = await secondHeld(mrn, a01(mrn, 'ECHOREGISTERED', 'V7400077', minutes(5)), a08(mrn, 'ECHORENAMED', minutes(6)), (p) => p.lastName === 'ECHORENAMED');
    await echo();
    expect((await servicePatient(mrn)).lastName).toBe('ECHORENAMED');
    await release();
    await echo();
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
    expect(await pending(mrn)).toBeNull();
  });

  it('a screen\'s edit of the renamed name, made after the rename landed and before its echo was read, stays when a later write-back leaves the name out', async () => {
    const mrn = mrns[3]!;
    const release = await secondHeld(mrn, a08(mrn, 'ECHOLANDED', minutes(5)), phoneA08(mrn, '555-0144', minutes(6)), (p) => p.phone === '555-0144');
    // the phone's write-back left the name out (pending: the rename's echo not read when it was made)
    await echo();
    const screen = await legacyPatient(mrn);
    expect(screen.lastName).toBe('ECHOLANDED');
    const put = await fetch(`${scene.legacy.base}/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...screen, lastName: 'SCREENFIXED' }) });
    expect(put.status).toBe(200);
    await synced();
    await release();
    await echo();
    // the writer finds the screen's name where it wrote the rename: it leaves it
    const legacy = await legacyPatient(mrn);
    expect(legacy).toMatchObject({ lastName: 'SCREENFIXED', phone: '555-0144' });
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn)).toBeNull();
  });

  it('a write-back that never lands (dead-lettered for good; here its job taken off the held queue): the service keeps its change, and a later message\'s write-back writes it too (the phone on both sides)', async () => {
    const mrn = mrns[2]!;
    const before = await legacyPatient(mrn);
    const release = await secondHeld(mrn, a08(mrn, 'ECHOKEPT', minutes(5)), phoneA08(mrn, '555-0143', minutes(6)), (p) => p.phone === '555-0143');
    const queue = new Queue<ChangeBatch>(partitionQueueName(writebackQueuePrefix('patient-service'), partitionOf(keyText({ mrn }), 8)), { connection: scene.redis });
    try {
      const held = (await queue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.events.some((e) => e.key.mrn === mrn));
      expect(held).toHaveLength(1);
      await held[0]!.remove();
    } finally {
      await queue.close();
    }
    await echo();
    // the rename's echo: the phone (its write-back not landed) stays the service's, pending
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'ECHOKEPT', phone: '555-0143' });
    expect(await pending(mrn)).toContain('phone');
    // a later message's write-back writes what is still pending (the phone) with its own change, and lands
    await scene.sendHl7('patient-service', a08(mrn, 'ECHOLATER', minutes(7)), { legacyToo: false });
    await release((p) => p.lastName === 'ECHOLATER');
    await echo();
    const legacy = await legacyPatient(mrn);
    // before 7 December it wrote the name alone: the legacy kept the old phone, and the later echo, applied whole, reverted the service's phone too
    expect(before.phone).not.toBe('555-0143');
    expect(legacy).toMatchObject({ lastName: 'ECHOLATER', phone: '555-0143' });
    expect(await servicePatient(mrn)).toEqual(legacy);
    expect(await pending(mrn)).toBeNull();
  });
});
