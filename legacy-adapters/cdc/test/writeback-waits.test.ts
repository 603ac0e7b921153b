/**
 * The legacy writer when the legacy database cannot take a write-back now, on a real legacy
 * database and Redis (the 2026-12 probe of write-back under failure):
 *
 * - a stay (or result) whose patient is still on its way through another partition: the
 *   foreign key's refusal waited for in place, then applied (half of the service's new stays
 *   and results were dead-lettered at their first try);
 * - a parent that never comes: a dead letter of that row alone, after the configured wait,
 *   saying so; the job's other rows written;
 * - a row the legacy schema refuses: that row dead-lettered, the job's other rows written;
 * - the legacy database away: waited for without using up the tries, shown and logged once
 *   (a minute of outage dead-lettered jobs after 8 tries);
 * - a legacy row lock held by a forgotten session: "not now" past lock_timeout, shown, then
 *   applied (before, the lane hung silently);
 * - one row, one write-back position, whatever the JSON type of its key.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyText, partitionOf, partitionQueueName } from '@ficus/contracts';
import { deadLetterQueueName, writebackQueuePrefix, type DeadLetter } from '@ficus/contracts/queues';
import { startScene, until, type Scene } from './support/cdc-scene.js';
import { PARTITIONS, startWriter, type WriterScene } from './support/writer-scene.js';

const FK_WAIT_MS = 3_000;
let s: Scene;
let w: WriterScene;

beforeAll(async () => {
  s = await startScene({ name: 'writeback_waits', seedPatients: 10 });
  w = await startWriter(s, { fkWaitMs: FK_WAIT_MS, lockTimeoutMs: 300 });
});
afterAll(async () => {
  await w?.close();
  await s?.close();
});

const patient = (mrn: string) => ({ mrn, lastName: 'NEWLY', firstName: 'REGISTERED', dateOfBirth: '1980-02-03', sex: 'F', active: 'Y', created: '2026-12-01T08:00:00', lastUpdated: '2026-12-01T08:00:00', lastUpdatedBy: 'PATIENT-SERVICE' });
const stay = (admissionId: number, mrn: string) => ({ admissionId, mrn, admitDate: '2026-12-01T08:05:00', ward: 'MED1', admissionType: 'E', lastUpdated: '2026-12-01T08:05:00' });
const result = (resultId: string, mrn: string, admissionId: number) => ({ resultId, mrn, admissionId, orderNumber: `ORD${resultId}`, testCode: 'K', testName: 'POTASSIUM', value: '4.1', units: 'mmol/L', status: 'F', collectedDate: '2026-12-01T09:00:00', lastUpdated: '2026-12-01T09:30:00' });
const legacyStay = async (id: number) => (await s.legacyPool.query<{ pat_mrn: string; bed_no: string | null }>('SELECT pat_mrn, bed_no FROM admission WHERE adm_id = $1', [id])).rows[0];
const legacyPatient = async (mrn: string) => (await s.legacyPool.query<{ city_nm: string | null; sex_cd: string }>('SELECT city_nm, sex_cd FROM patient_master WHERE pat_mrn = $1', [mrn])).rows[0];
const seeded = async () => (await s.legacyPool.query<{ pat_mrn: string }>('SELECT pat_mrn FROM patient_master ORDER BY pat_mrn')).rows.map((r) => r.pat_mrn);

async function deadLetters(): Promise<DeadLetter<{ events: { key: Record<string, unknown> }[] }>[]> {
  const all = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), p)), { connection: s.redis });
    all.push(...(await q.getJobs(['waiting'])).map((j) => j.data as DeadLetter<{ events: { key: Record<string, unknown> }[] }>));
    await q.close();
  }
  return all;
}
async function clearDeadLetters(): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), p)), { connection: s.redis });
    await q.obliterate({ force: true });
    await q.close();
  }
}

describe('write-back of a child before its parent', () => {
  it('waits for the patient on its way through another partition, then writes the stays and results: none dead-lettered', async () => {
    // the probe: after the flip, new patients and their stays; the relay partitions each row by its own key
    // (the stays' partitions apart from the patients': a stay waiting holds its partition, and
    // the relay never puts a patient behind a stay written after it, as this test does)
    const lane = (key: Record<string, unknown>) => partitionOf(keyText(key), PARTITIONS);
    const pick = <T>(from: number, ok: (n: number) => boolean, make: (n: number) => T) => {
      let n = from;
      while (!ok(n)) n++;
      return make(n);
    };
    const pairs = Array.from({ length: 5 }, (_, i) => ({
      mrn: pick(9_000_001 + i * 20, (n) => lane({ mrn: String(n) }) >= 4, String),
      admissionId: pick(7_001 + i * 20, (n) => lane({ admissionId: n }) < 4, (n) => n),
      resultId: pick(8_001 + i * 20, (n) => lane({ resultId: String(n) }) < 4, String),
      id: 1_000 + i * 3,
    }));
    // the stays first: their patients' partitions are late (held up, in the probe, by other work)
    for (const p of pairs) await w.publish([w.event('admissions', 'create', { admissionId: p.admissionId }, stay(p.admissionId, p.mrn), p.id + 1)]);
    // and a result of each stay (results-service's queue, in the probe)
    for (const p of pairs) await w.publish([w.event('lab-results', 'create', { resultId: p.resultId }, result(p.resultId, p.mrn, p.admissionId), p.id + 2)]);
    await sleep(1_500);
    expect(await legacyStay(pairs[0]!.admissionId)).toBeUndefined();
    expect(await deadLetters()).toEqual([]);
    expect(w.lines.filter((l) => l.msg.startsWith('write-back waits for a parent row')).length).toBeGreaterThan(0);
    // one `service` a line: the deployable's, the write-back's own as writebackService
    for (const l of w.raw.filter((r) => r.includes('write-back waits for a parent row'))) {
      expect(l.match(/"service":/g)).toEqual(['"service":']);
      expect(JSON.parse(l)).toMatchObject({ service: 'cdc', writebackService: s.service });
    }
    for (const p of pairs) await w.publish([w.event('patients', 'create', { mrn: p.mrn }, patient(p.mrn), p.id)]);
    await until(async () => (await Promise.all(pairs.map((p) => legacyStay(p.admissionId)))).every((r) => r !== undefined), 'every stay written back');
    for (const p of pairs) expect((await legacyStay(p.admissionId))!.pat_mrn).toBe(p.mrn);
    await until(async () => (await s.legacyPool.query<{ n: number }>('SELECT count(*)::int AS n FROM lab_result WHERE result_id = ANY($1::bigint[])', [pairs.map((p) => p.resultId)])).rows[0]!.n === pairs.length, 'every result written back');
    expect(await deadLetters()).toEqual([]);
  });

  it('dead-letters a stay whose patient never comes after the wait, saying so, and writes the rest of its job', async () => {
    const [other] = await seeded();
    const started = Date.now();
    await w.publish([w.event('admissions', 'create', { admissionId: 7_100 }, stay(7_100, '9099999'), 2_001), w.event('patients', 'update', { mrn: other }, { ...patient(other!), city: 'WRITTEN WITH AN ORPHAN' }, 2_002, patient(other!))]);
    // while it waits, the status says so (GET /api/cdc/status, ficus cdc status, the dashboard): before, the log alone
    const parentWaits = () => w.writer.status().services[0]!.parentWaits;
    const held = await until(() => parentWaits()[0], 'the wait shown');
    expect(held).toEqual({
      partition: expect.any(Number),
      topics: [s.topic('admissions')],
      rows: 1,
      foreignKeys: [{ table: 'admission', constraint: 'admission_pat_mrn_fkey', parentTable: 'patient_master' }],
      since: expect.any(String),
      until: new Date(Date.parse(held.since) + FK_WAIT_MS).toISOString(),
    });
    expect(JSON.stringify(held)).not.toContain('9099999');
    const [letter] = await until(async () => {
      const d = await deadLetters();
      return d.length > 0 && d;
    }, 'the orphan dead-lettered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(FK_WAIT_MS);
    expect(letter!.error).toMatch(new RegExp(`^the legacy database refused the create of topic ${s.topic('admissions')} \\(legacy "public"\\."admission"\\) at position 0+2001, key \\(admissionId\\): .*foreign key.* \\(23503\\).*still so after waiting 3 s for the parent row$`));
    expect(letter!.error).not.toContain('9099999');
    expect(letter!.data.events.map((e) => e.key)).toEqual([{ admissionId: 7_100 }]);
    expect((await legacyPatient(other!))!.city_nm).toBe('WRITTEN WITH AN ORPHAN');
    // given up on: no longer shown as waiting
    expect(parentWaits()).toEqual([]);
    await clearDeadLetters();
  });
});

describe('write-back of a row the legacy schema refuses', () => {
  it('dead-letters that row alone and writes the others of its job', async () => {
    const [a, b] = await seeded();
    await w.publish([w.event('patients', 'update', { mrn: a }, { ...patient(a!), city: 'A CITY' }, 3_001, patient(a!)), w.event('patients', 'update', { mrn: b }, { ...patient(b!), sex: 'Q' }, 3_002, patient(b!))]);
    const [letter] = await until(async () => {
      const d = await deadLetters();
      return d.length > 0 && d;
    }, 'the refused row dead-lettered');
    expect(letter!.error).toMatch(/^the legacy database refused the update of topic .* at position 0+3002, key \(mrn\): .*check constraint.* \(23514\); the job's other keys were applied$/);
    expect(letter!.data.events.map((e) => e.key)).toEqual([{ mrn: b }]);
    expect((await legacyPatient(a!))!.city_nm).toBe('A CITY');
    await clearDeadLetters();
  });
});

describe('the legacy database not there now', () => {
  it('waits without using up the tries, shows it and logs it once, then writes', async () => {
    const [mrn] = await seeded();
    const logged = w.lines.length;
    await w.allowConnections(false);
    try {
      await w.publish([w.event('patients', 'update', { mrn }, { ...patient(mrn!), city: 'AFTER THE OUTAGE' }, 4_001, patient(mrn!))]);
      const waiting = (await until(() => w.writer.status().services[0]!.waiting, 'the waiting shown'))!;
      await sleep(2_500);
      expect(w.writer.status().services[0]!.waiting!.tries).toBeGreaterThan(10);
      expect(waiting.lastError).toMatch(/not currently accepting connections|terminat/);
      expect(await deadLetters()).toEqual([]);
    } finally {
      await w.allowConnections(true);
    }
    await until(async () => (await legacyPatient(mrn!))?.city_nm === 'AFTER THE OUTAGE', 'the write-back after the outage');
    expect(w.writer.status().services[0]!.waiting).toBeNull();
    expect(await deadLetters()).toEqual([]);
    expect(w.lines.slice(logged).filter((l) => /available|trying again|dead-lettered/.test(l.msg)).map((l) => l.msg)).toEqual([
      'the legacy database is not available: jobs wait in place, their partitions hold, nothing is dead-lettered',
      'the legacy database is available again; the waiting jobs go on',
    ]);
    for (const l of w.raw.filter((r) => r.includes('the legacy database is'))) {
      expect(l.match(/"service":/g)).toEqual(['"service":']);
      expect(JSON.parse(l)).toMatchObject({ service: 'cdc', writebackService: s.service });
    }
  });

  it('takes a row lock held past lock_timeout as "not now": shown, retried, then written', async () => {
    const [, , mrn] = await seeded();
    const holder = new pg.Client({ connectionString: s.legacy.url });
    await holder.connect();
    try {
      // a legacy screen's session left a transaction open on the row
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM patient_master WHERE pat_mrn = $1 FOR UPDATE', [mrn]);
      await w.publish([w.event('patients', 'update', { mrn }, { ...patient(mrn!), city: 'AFTER THE LOCK' }, 5_001, patient(mrn!))]);
      const waiting = (await until(() => w.writer.status().services[0]!.waiting, 'the lock shown', 10_000))!;
      expect(waiting.lastError).toMatch(/lock timeout \(55P03\)/);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    await until(async () => (await legacyPatient(mrn!))?.city_nm === 'AFTER THE LOCK', 'the write-back after the lock');
    expect(w.writer.status().services[0]!.waiting).toBeNull();
    expect(await deadLetters()).toEqual([]);
  });
});

describe('one row, one write-back position', () => {
  it('skips a redelivery of a stay whose key came as a number after one that came as a string', async () => {
    const [mrn] = await seeded();
    await w.publish([w.event('admissions', 'create', { admissionId: '7200' }, { ...stay(7_200, mrn!), admissionId: '7200', bed: 'NEW' }, 6_002)]);
    await until(async () => (await legacyStay(7_200))?.bed_no === 'NEW', 'the stay written back');
    const skipped = w.outcomes.filter((o) => o.outcome === 'skipped').length;
    await w.publish([w.event('admissions', 'update', { admissionId: 7_200 }, { ...stay(7_200, mrn!), bed: 'OLD' }, 6_001)]);
    await until(() => w.outcomes.filter((o) => o.outcome === 'skipped').length > skipped, 'the older change skipped');
    expect((await legacyStay(7_200))!.bed_no).toBe('NEW');
    const { rows } = await s.legacyPool.query<{ key: string }>('SELECT key FROM ficus_writeback_positions WHERE topic = $1', [s.topic('admissions')]);
    expect(rows.filter((r) => r.key.includes('7200'))).toEqual([{ key: '[["admissionId","7200"]]' }]);
  });
});
