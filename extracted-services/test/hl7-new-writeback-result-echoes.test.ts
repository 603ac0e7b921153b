/**
 * Two ORUs of one result in mode `new` while the legacy holds the record (results-read in
 * `legacy`): results-service applies each and writes it back; the legacy's copy of each
 * write-back comes back through CDC (its echo, origin ficus-writeback). When the first
 * write-back's echo is read after the second ORU was applied (the second write-back slow, held
 * or lost), it must not put the first ORU's value back in results-service. Before 7 December it
 * was applied whole: a clinician reading results through results-service saw the preliminary
 * value again until the final's echo came, and for good when that write-back never landed.
 *
 * The real parts: results-service with its outbox and relay, the CDC deployable's legacy writer
 * (the shipped mapping) on the legacy database, held by stopping it; the CDC reader's side is
 * the stand-in (test-support/legacy-cdc.ts), so each echo arrives exactly when the test reads it.
 * A Redis of this file's own: every database of the shared one is some other file's.
 */
import { Queue } from 'bullmq';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { keyText, partitionOf, partitionQueueName, type ChangeBatch } from '@ficus/contracts';
import { writebackQueuePrefix } from '@ficus/contracts/queues';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { minutes, oru } from './support/writeback-messages.js';
import { startWritebackScene, syncedInto, type WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;
let mrns: string[];

beforeAll(async () => {
  // the services hold the record from the environment: `legacy`, as with results-read in mode legacy
  wb = await startWritebackScene({ prefix: 'svc_wb_res_echoes', redis: 'own', services: ['results-service'], patients: 10, seed: 7_460 });
  scene = wb.scene;
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 3');
  mrns = rows.map((r) => r.pat_mrn);
});
afterAll(() => wb?.close());

type LabResult = { resultId: number; orderNumber: string; value: string | null; status: string; abnormalFlag: string | null; referenceRange: string | null } & Record<string, unknown>;
const resultOf = (list: unknown, order: string) => (list as { items: LabResult[] }).items.find((r) => r.orderNumber === order);
const serviceResult = async (mrn: string, order: string) => resultOf(JSON.parse((await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body), order)!;
const legacyResult = async (mrn: string, order: string) => {
  const a = await ask(scene.legacy.base, `/api/results?mrn=${mrn}`);
  return a.status === 200 ? resultOf(JSON.parse(a.body), order) : undefined;
};
const q = async <T extends pg.QueryResultRow>(sql: string, id: number) => (await scene.results.pool.query<T>(sql, [String(id)])).rows;
const pending = async (id: number) => (await q<{ f: string[] | null }>('SELECT local_changed_fields AS f FROM lab_result WHERE id = $1', id))[0]!.f;
const versions = (id: number) =>
  q('SELECT value, status, abnormal_flag AS "abnormalFlag", reference_range AS "referenceRange", replaced_by AS "replacedBy" FROM lab_result_version WHERE result_id = $1 ORDER BY id', id);
const conflictsOf = async (id: number) =>
  (await q<{ reason: string }>("SELECT reason FROM ficus_change_conflicts WHERE topic = 'lab-results' AND key::jsonb->>'resultId' = $1 ORDER BY id", id)).map((r) => r.reason);
const published = async (order: string) =>
  (await scene.results.pool.query("SELECT 1 FROM ficus_outbox WHERE topic = 'lab-results' AND after->>'orderNumber' = $1 AND published_at IS NULL", [order])).rowCount === 0;
/** everything results-service handed to its outbox is published and written to the legacy */
async function settled(): Promise<void> {
  await expect.poll(async () => (await scene.results.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
  await scene.drain();
}

describe('the echo of the first write-back of a result read after the second ORU was applied (HL7 rule in new, the write rule in legacy)', () => {
  /** what the legacy committed since the last sync reaches the service and is applied (each change's position taken) */
  const synced = (o: { origin?: string } = {}) => syncedInto(scene, 'lab-results', scene.results.pool, o);
  /** what the legacy writer made of the write-backs so far, as the CDC reader brings it (CDC_WRITEBACK_ECHO=tag) */
  const echo = () => synced({ origin: 'ficus-writeback' });

  /**
   * A preliminary potassium of 5.9 (H) is filed by an ORU and written back (the legacy holds it,
   * its echo not yet read); then the legacy writer is held and the final of 4.2 is applied in the
   * service: its write-back waits. Answers the result's id and a function that lets the writer
   * go and waits for the legacy to hold what `landed` looks for (by default, the final).
   */
  async function finalHeld(mrn: string, order: string): Promise<{ id: number; release: (landed?: (r: LabResult) => boolean) => Promise<void> }> {
    await settled();
    await echo();
    await scene.sendHl7('results-service', oru(mrn, order, '5.9', 'P', minutes(5), 'H'), { legacyToo: false });
    await expect.poll(async () => (await legacyResult(mrn, order))?.value, { timeout: 15_000 }).toBe('5.9');
    await settled();
    const id = (await serviceResult(mrn, order)).resultId;
    await wb.stopWriter();
    let held = true;
    const release = async (landed = (r: LabResult) => r.status === 'F') => {
      if (!held) return;
      held = false;
      await wb.startWriter();
      await expect.poll(async () => landed((await legacyResult(mrn, order))!), { timeout: 15_000 }).toBe(true);
      await settled();
    };
    onTestFinished(() => release());
    await scene.sendHl7('results-service', oru(mrn, order, '4.2', 'F', minutes(6)), { legacyToo: false });
    await expect.poll(async () => (await serviceResult(mrn, order)).status, { timeout: 10_000 }).toBe('F');
    await expect.poll(() => published(order), { timeout: 10_000 }).toBe(true);
    expect(await legacyResult(mrn, order)).toMatchObject({ value: '5.9', status: 'P' });
    expect(scene.results.systemOfRecord.current()).toBe('legacy');
    return { id, release };
  }

  it('a preliminary then a final: the preliminary\'s echo leaves the final in the service, the final\'s echo ends the pending state; one version, the preliminary', async () => {
    const mrn = mrns[0]!;
    const { id, release } = await finalHeld(mrn, 'L74600001');
    await echo();
    // before 7 December the echo was applied whole: the service showed the preliminary 5.9 H again until the final's echo came back
    expect(await serviceResult(mrn, 'L74600001')).toMatchObject({ value: '4.2', status: 'F', abnormalFlag: null });
    expect(await pending(id)).toEqual(expect.arrayContaining(['value', 'status', 'abnormalFlag']));
    await release();
    await echo();
    const legacy = await legacyResult(mrn, 'L74600001');
    expect(legacy).toMatchObject({ value: '4.2', status: 'F', abnormalFlag: null });
    expect(await serviceResult(mrn, 'L74600001')).toEqual(legacy);
    expect(await pending(id)).toBeNull();
    expect(await conflictsOf(id)).toEqual([]);
    // the preliminary replaced by the final, and nothing else: no version of an echo that changed nothing here
    expect(await versions(id)).toEqual([{ value: '5.9', status: 'P', abnormalFlag: 'H', referenceRange: '3.5-5.1', replacedBy: 'hl7:ORU^R01' }]);
  });

  it('a screen\'s edit of the range committed after the preliminary landed, read with its echo: the service keeps the final and takes the range (its version kept); both sides end with both', async () => {
    const mrn = mrns[1]!;
    const { id, release } = await finalHeld(mrn, 'L74600002');
    await scene.legacy.pool.query('UPDATE LAB_RESULT SET REF_RANGE = $2 WHERE RESULT_ID = $1', [id, '3.4-5.3']);
    await echo();
    expect(await serviceResult(mrn, 'L74600002')).toMatchObject({ value: '4.2', status: 'F', referenceRange: '3.4-5.3' });
    await release();
    await echo();
    const legacy = await legacyResult(mrn, 'L74600002');
    expect(legacy).toMatchObject({ value: '4.2', status: 'F', referenceRange: '3.4-5.3' });
    expect(await serviceResult(mrn, 'L74600002')).toEqual(legacy);
    expect(await pending(id)).toBeNull();
    expect(await conflictsOf(id)).toEqual([]);
    expect(await versions(id)).toEqual([
      { value: '5.9', status: 'P', abnormalFlag: 'H', referenceRange: '3.5-5.1', replacedBy: 'hl7:ORU^R01' },
      { value: '4.2', status: 'F', abnormalFlag: null, referenceRange: '3.5-5.1', replacedBy: 'cdc' },
    ]);
  });

  it('a write-back that never lands (dead-lettered for good; here its job taken off the held queue): the service keeps the final, and a later correction\'s write-back writes what the lost one would have (no flag on either side)', async () => {
    const mrn = mrns[2]!;
    const { id, release } = await finalHeld(mrn, 'L74600003');
    const queue = new Queue<ChangeBatch>(partitionQueueName(writebackQueuePrefix('results-service'), partitionOf(keyText({ resultId: String(id) }), 8)), { connection: scene.redis });
    try {
      const held = (await queue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.events.some((e) => String(e.key.resultId) === String(id)));
      expect(held).toHaveLength(1);
      await held[0]!.remove();
    } finally {
      await queue.close();
    }
    await echo();
    expect(await serviceResult(mrn, 'L74600003')).toMatchObject({ value: '4.2', status: 'F' });
    expect(await pending(id)).toEqual(expect.arrayContaining(['value', 'status']));
    // a correction with no flag either: its write-back writes what is still pending (the final's flag cleared) with its own value and status
    await scene.sendHl7('results-service', oru(mrn, 'L74600003', '4.4', 'C', minutes(7)), { legacyToo: false });
    await release((r) => r.status === 'C');
    await echo();
    const legacy = await legacyResult(mrn, 'L74600003');
    // before 7 December it wrote the value and status alone: the legacy kept the preliminary's H, and the correction's echo, applied whole, gave the service 4.4 C H too
    expect(legacy).toMatchObject({ value: '4.4', status: 'C', abnormalFlag: null });
    expect(await serviceResult(mrn, 'L74600003')).toEqual(legacy);
    expect(await pending(id)).toBeNull();
  });
});
