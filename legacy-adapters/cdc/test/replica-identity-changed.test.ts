/**
 * A DBA sets a captured table's REPLICA IDENTITY back from FULL while the reader streams (to save
 * WAL, or a table rebuilt from a script without it). PostgreSQL then logs a delete with only the
 * primary key's columns ('K'), and an update with no old row at all. Before, the 'K' row was
 * read as a whole old row: a PATIENT_MASTER delete went out keyed { mrn: null } (PAT_MRN is not
 * the primary key), CDC stayed ready, patient-service held the partition for a minute and
 * dead-lettered the job, and the patient stayed in the service for good (found probing the
 * demo). An update without its old row stopped the source, but its message asked only for FULL:
 * set back and restarted, the reader met the same WAL record and the same message. Now either
 * stops the source, publishes nothing of it, and says how to get out: FULL and CDC_RESNAPSHOT.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { startScene, until, type Scene } from './support/cdc-scene.js';
import { queuedEvents, stoppedWith } from './support/queued-changes.js';

const scenes: Scene[] = [];
afterAll(async () => {
  for (const s of scenes) await s.close();
});

const streamed = async (s: Scene, topic: string): Promise<ChangeEvent[]> => (await queuedEvents(s.redis, topic)).filter((e) => e.op !== 'snapshot');


const WAY_OUT = /REPLICA IDENTITY was DEFAULT when the change was made.*ALTER TABLE public\.patient_master REPLICA IDENTITY FULL\) and restart with CDC_RESNAPSHOT=true/;

describe('a captured table whose REPLICA IDENTITY is no longer FULL', () => {
  it('stops the source at a delete that carries only the primary key, and publishes no key-less delete', async () => {
    const s = await startScene({ name: 'identity_delete', seedPatients: 2 });
    scenes.push(s);
    const topic = s.topic('patients');
    const cdc = await s.start({ CDC_WRITEBACK_SERVICES: '' });
    await s.legacyPool.query("INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD) VALUES ('900001', 'TESTCASE', 'ALPHA', DATE '1980-02-02', 'F')");
    await until(async () => (await streamed(s, topic)).some((e) => e.op === 'create'), 'the insert');

    await s.legacyPool.query('ALTER TABLE PATIENT_MASTER REPLICA IDENTITY DEFAULT');
    await s.legacyPool.query("DELETE FROM PATIENT_MASTER WHERE PAT_MRN = '900001'");
    await s.legacyPool.query("UPDATE WARD SET WARD_DESC = 'AFTER THE DELETE' WHERE WARD_CD = 'ICU'");

    expect(await stoppedWith(cdc)).toMatch(/^table patient_master sent a delete without its whole old row/);
    expect(await stoppedWith(cdc)).toMatch(WAY_OUT);
    expect(cdc.output()).toMatch(/"level":"error".*CDC source stopped: this needs a person/);
    // nothing of it, nor of what came after it, went out
    expect((await streamed(s, topic)).map((e) => e.op)).toEqual(['create']);
    expect(await streamed(s, s.topic('wards'))).toEqual([]);
    await cdc.stop();
  }, 90_000);

  it('after an update without its old row, says the same again once FULL is back, until a new snapshot is taken', async () => {
    const s = await startScene({ name: 'identity_update', seedPatients: 2 });
    scenes.push(s);
    const first = await s.start({ CDC_WRITEBACK_SERVICES: '' });
    await s.legacyPool.query('ALTER TABLE PATIENT_MASTER REPLICA IDENTITY DEFAULT');
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'WITHOUT FULL' WHERE PAT_MRN = (SELECT min(PAT_MRN) FROM PATIENT_MASTER)");
    expect(await stoppedWith(first)).toMatch(WAY_OUT);
    await first.stop();

    // the DBA sets it back and restarts: the WAL record still has no old row, and the message still says what to do
    await s.legacyPool.query('ALTER TABLE PATIENT_MASTER REPLICA IDENTITY FULL');
    const second = await s.start({ CDC_WRITEBACK_SERVICES: '' }, { waitReady: false });
    expect(await stoppedWith(second)).toMatch(WAY_OUT);
    await second.stop();

    // as it says: a new snapshot, and streaming goes on
    const third = await s.start({ CDC_WRITEBACK_SERVICES: '', CDC_RESNAPSHOT: 'true' });
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'AFTER THE SNAPSHOT' WHERE PAT_MRN = (SELECT min(PAT_MRN) FROM PATIENT_MASTER)");
    await until(async () => (await streamed(s, s.topic('patients'))).some((e) => e.after?.city === 'AFTER THE SNAPSHOT'), 'the update after the snapshot');
    await third.stop();
  }, 90_000);
});
