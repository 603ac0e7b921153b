/**
 * A write-back whose legacy row is gone, on a real legacy database, CDC process and Redis (found
 * by hand on the demo): a legacy screen renamed a patient's MRN and, within the CDC lag, the
 * service (system of record) changed that patient under the old MRN. The writer inserted the
 * whole row again under the old MRN: one person, two charts in the legacy.
 *
 * - renamed: the write-back waits in place until CDC has read that far, then is written to the
 *   row under its new MRN (the decoder's delete carrying `movedTo`, kept by the publisher);
 * - deleted in the legacy: a dead letter naming the update/delete conflict, no row values, no
 *   insert;
 * - a row the service made (its create and an update in one job): inserted, as before;
 * - a job held for a gone row that then meets a foreign key (the row made again in the legacy,
 *   the service's change naming a ward not there yet) waits its whole fkWaitMs for the parent:
 *   the two waits shared one clock, and the refusal was dead-lettered at once.
 */
import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionQueueName } from '@ficus/contracts';
import { deadLetterQueueName, writebackQueuePrefix, type DeadLetter } from '@ficus/contracts/queues';
import { startScene, until, type CdcProcess, type Scene } from './support/cdc-scene.js';
import { PARTITIONS, startWriter, type WriterScene } from './support/writer-scene.js';

let s: Scene;
let w: WriterScene;
let cdc: CdcProcess;
const FK_WAIT_MS = 1_500;
/** the CDC process without its own writer: the test's writer (in this process) is the one */
const startCdc = () => s.start({ CDC_WRITEBACK_SERVICES: '', CDC_STATUS_INTERVAL_MS: '200' });

beforeAll(async () => {
  s = await startScene({ name: 'writeback_keys', seedPatients: 3 });
  cdc = await startCdc();
  w = await startWriter(s, { keyMoves: { source: 'legacy-pg', slot: s.slot }, fkWaitMs: FK_WAIT_MS });
});
afterAll(async () => {
  await w?.close();
  await cdc?.stop();
  await s?.close();
});

async function register(mrn: string, lastName: string): Promise<void> {
  await s.legacyPool.query("INSERT INTO patient_master (pat_mrn, pat_last_nm, pat_first_nm, pat_dob, sex_cd, city_nm) VALUES ($1, $2, 'ANNA', '1980-01-01', 'F', 'OLDTOWN')", [mrn, lastName]);
}
/** the legacy row as the patients topic names its fields */
async function topicRow(mrn: string): Promise<Record<string, unknown>> {
  const fields = s.topics.find((t) => t.topic === s.topic('patients'))!.fields;
  const { rows } = await s.legacyPool.query<{ j: Record<string, unknown> }>('SELECT to_jsonb(p) AS j FROM patient_master p WHERE pat_mrn = $1', [mrn]);
  return Object.fromEntries(fields.map(([field, column]) => [field, rows[0]!.j[column.toLowerCase()]]));
}
const legacyRows = async (lastName: string) =>
  (await s.legacyPool.query<{ pat_mrn: string; city_nm: string }>('SELECT pat_mrn, city_nm FROM patient_master WHERE pat_last_nm = $1 ORDER BY pat_mrn', [lastName])).rows;

async function deadLetters(): Promise<DeadLetter<{ events: { key: Record<string, unknown> }[] }>[]> {
  const all = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), p)), { connection: s.redis });
    all.push(...(await q.getJobs(['waiting'])).map((j) => j.data as DeadLetter<{ events: { key: Record<string, unknown> }[] }>));
    await q.close();
  }
  return all;
}

describe('a write-back of a row the legacy no longer has under its key', () => {
  it('follows a key change made in the legacy within the CDC lag: one row, under the new MRN, with the service\'s change', async () => {
    await register('100301', 'RENAMED');
    const row = await topicRow('100301');
    // CDC lags: the rename is committed, not yet read
    await cdc.stop();
    await s.legacyPool.query("UPDATE patient_master SET pat_mrn = '900301' WHERE pat_mrn = '100301'");
    await w.publish([w.event('patients', 'update', { mrn: '100301' }, { ...row, city: 'NEWTOWN' }, 3_001, row)]);

    // the writer waits in place: no row made again under the old MRN
    await sleep(1_500);
    expect(await legacyRows('RENAMED')).toEqual([{ pat_mrn: '900301', city_nm: 'OLDTOWN' }]);
    expect(w.lines.some((l) => /waits for CDC to read that far/.test(l.msg))).toBe(true);

    cdc = await startCdc();
    await until(async () => (await legacyRows('RENAMED'))[0]?.city_nm === 'NEWTOWN' || (await legacyRows('RENAMED')).length > 1, 'the write-back landed');
    expect(await legacyRows('RENAMED')).toEqual([{ pat_mrn: '900301', city_nm: 'NEWTOWN' }]);
    expect(w.lines.some((l) => /followed a key change/.test(l.msg))).toBe(true);
    expect(await deadLetters()).toEqual([]);
    // one `service` a line (the deployable's), the write-back's own as writebackService: the
    // service's name written second as `service` was lost by JSON readers that keep the last (or the first)
    const said = w.raw.filter((l) => /waits for CDC to read that far|followed a key change/.test(l));
    expect(said).toHaveLength(2);
    for (const l of said) {
      expect(l.match(/"service":/g)).toEqual(['"service":']);
      expect(JSON.parse(l)).toMatchObject({ service: 'cdc', writebackService: s.service });
    }
  });

  it('dead-letters the change of a row deleted in the legacy as an update/delete conflict, without values, and inserts nothing', async () => {
    await register('100302', 'DELETED');
    const row = await topicRow('100302');
    await s.legacyPool.query("DELETE FROM patient_master WHERE pat_mrn = '100302'");
    await w.publish([w.event('patients', 'update', { mrn: '100302' }, { ...row, city: 'NEWTOWN' }, 3_002, row)]);
    const [letter] = await until(async () => {
      const d = await deadLetters();
      return (d.length > 0 && d) || ((await legacyRows('DELETED')).length > 0 && [undefined]);
    }, 'a dead letter, or the row again');
    expect(await legacyRows('DELETED')).toEqual([]);
    expect(letter!.error).toMatch(/^the legacy database refused the update of .* key \(mrn\): the legacy has no row of this key any more .*update\/delete conflict/);
    expect(letter!.error).not.toContain('100302');
    expect(letter!.data.events.map((e) => e.key)).toEqual([{ mrn: '100302' }]);
  });

  it('still inserts a row the service made: its create and a later update in one job', async () => {
    const made = { mrn: '9000303', lastName: 'MADEHERE', firstName: 'NEW', dateOfBirth: '1990-05-06', sex: 'M', active: 'Y', created: '2026-12-07T08:00:00', lastUpdated: '2026-12-07T08:00:00', lastUpdatedBy: 'PATIENT-SERVICE' };
    await w.publish([w.event('patients', 'create', { mrn: made.mrn }, made, 3_003), w.event('patients', 'update', { mrn: made.mrn }, { ...made, city: 'THEN MOVED' }, 3_004, made)]);
    await until(async () => (await legacyRows('MADEHERE')).length > 0, 'the new row');
    expect(await legacyRows('MADEHERE')).toEqual([{ pat_mrn: '9000303', city_nm: 'THEN MOVED' }]);
  });

  it('a job held for a gone row that then meets a foreign key waits its whole fkWaitMs for the parent row', async () => {
    await register('100304', 'FKWAIT');
    const adm = (await s.legacyPool.query<{ id: number }>("INSERT INTO admission (pat_mrn, adm_dt, ward_cd, adm_type_cd) VALUES ('100304', '2026-12-01 08:00', 'MED1', 'I') RETURNING adm_id AS id")).rows[0]!.id;
    const fields = s.topics.find((t) => t.topic === s.topic('admissions'))!.fields;
    const j = (await s.legacyPool.query<{ j: Record<string, unknown> }>('SELECT to_jsonb(a) AS j FROM admission a WHERE adm_id = $1', [adm])).rows[0]!.j;
    const row = Object.fromEntries(fields.map(([field, column]) => [field, j[column.toLowerCase()]]));
    const wardOf = async () => (await s.legacyPool.query<{ ward_cd: string }>('SELECT ward_cd FROM admission WHERE adm_id = $1', [adm])).rows[0]?.ward_cd;
    const letters = async () => (await deadLetters()).filter((d) => d.data.events.some((e) => e.key.admissionId === adm));
    const logged = (re: RegExp) => w.lines.some((l) => re.test(l.msg) && (l.topics as string[] | undefined)?.includes(s.topic('admissions')));
    await cdc.stop();
    try {
      // the stay deleted on a legacy screen within the CDC lag, while the service moved it to a new ward
      await s.legacyPool.query('DELETE FROM admission WHERE adm_id = $1', [adm]);
      await w.publish([w.event('admissions', 'update', { admissionId: adm }, { ...row, ward: 'FKW1' }, 3_005, row)]);
      await until(() => logged(/waits for CDC to read that far/), 'the gone-row wait');
      await sleep(FK_WAIT_MS + 500);
      // made again on a legacy screen: now the ward the service named is refused by the foreign key
      await s.legacyPool.query("INSERT INTO admission (adm_id, pat_mrn, adm_dt, ward_cd, adm_type_cd) VALUES ($1, '100304', '2026-12-01 08:00', 'MED1', 'I')", [adm]);
      await until(async () => logged(/waits for a parent row/) || (await letters()).length > 0, 'the parent-row wait, or a dead letter');
      // before: dead-lettered at once, its fkWaitMs counted from the gone-row wait's start
      expect(await letters()).toEqual([]);
      await s.legacyPool.query("INSERT INTO ward (ward_cd, ward_desc) VALUES ('FKW1', 'FK WAIT WARD')");
      await until(async () => (await wardOf()) === 'FKW1' || (await letters()).length > 0, 'the update landed');
      expect(await wardOf()).toBe('FKW1');
      expect(await letters()).toEqual([]);
    } finally {
      cdc = await startCdc();
    }
  });
});
