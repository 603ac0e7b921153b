/**
 * A legacy screen renames a patient's MRN while patient-service holds the record and, within
 * the CDC lag, a client changes that patient in the service under the old MRN (found by hand on
 * the demo). CDC brings the key change as a delete of the old MRN carrying `movedTo` and a create
 * of the new one carrying `movedFrom`, on two partitions, in either order. The service refused
 * the delete (its own change is newer) and took the create as a second person. Now the patient
 * follows the key: one row, under the new MRN, the service's change kept (still pending for its
 * write-back), the legacy's other fields taken, its stays with it; no conflict recorded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyPatient } from '@ficus/legacy-his';
import { patientTopicRow } from '@ficus/patient-service';
import type { OutboxSeam } from '@ficus/service-kit';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { ask, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';

let scene: ServiceScene;
let redisDir: string;
let ownRedis: PrivateRedis;
let seeded: string[];
/** the write-backs are not what this file looks at: a seam that takes them in the change's transaction */
const outbox: OutboxSeam = async (tx) => void (await tx.query('SELECT 1'));

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-key-change-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  scene = await startServiceScene({ prefix: 'svc_keychange', redisDb: 0, redisUrl: ownRedis.url, patients: 12, seed: 4_242, systemOfRecord: 'service', outbox: { patients: outbox } });
  await scene.cdc.snapshot();
  await scene.drain();
  seeded = (await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 4')).rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await scene?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();
const rows = async (mrns: string[]) =>
  (await scene.patients.pool.query<{ mrn: string; family_name: string; city: string | null; pending: string[] | null }>('SELECT mrn, family_name, city, local_changed_fields AS pending FROM patient WHERE mrn = ANY($1::text[]) ORDER BY mrn', [mrns])).rows;
const conflicts = async () => (await scene.patients.pool.query('SELECT 1 FROM ficus_change_conflicts')).rowCount;

/** the service's own change (a PUT of a new last name), then the legacy's rename from a minute before, its two events in `order` */
async function renameMeetsPut(mrn: string, to: string, order: 'delete first' | 'create first'): Promise<void> {
  const read = await ask(scene.patients.url, `/api/patients/${mrn}`);
  const current = JSON.parse(read.body) as LegacyPatient;
  const put = await ask(scene.patients.url, `/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': read.headers.etag! }, body: JSON.stringify({ ...current, lastName: 'PUTAFTER' }) });
  expect(put.status).toBe(200);
  // the legacy's row after its rename (a screen also changed the city in that save)
  const renamed = { ...patientTopicRow(current), mrn: to, city: 'LEGACYCITY' };
  const old = patientTopicRow(current) as unknown as Record<string, unknown>;
  const o = { commitTime: minutes(-1) };
  const del = { ...scene.cdc.event('patients', 'delete', { mrn }, old, null, o), movedTo: { mrn: to } };
  const create = { ...scene.cdc.event('patients', 'create', { mrn: to }, null, renamed as unknown as Record<string, unknown>, o), movedFrom: { mrn } };
  for (const e of order === 'delete first' ? [del, create] : [create, del]) {
    await scene.cdc.publish([e]);
    await scene.drain();
  }
}

describe('a legacy key change meeting a change of the service\'s own', () => {
  it('delete first: the patient is renamed, keeps the service\'s change pending and takes the legacy\'s city; one person, no conflict', async () => {
    const [mrn] = seeded;
    await scene.patients.pool.query("INSERT INTO encounter (id, mrn, encounter_class, ward_code, admitted_at) VALUES (990001, $1, 'I', 'MED1', '2026-12-01 08:00')", [mrn]);
    const before = await conflicts();
    await renameMeetsPut(mrn!, '900401', 'delete first');
    expect(await rows([mrn!, '900401'])).toEqual([{ mrn: '900401', family_name: 'PUTAFTER', city: 'LEGACYCITY', pending: expect.arrayContaining(['lastName']) }]);
    expect((await scene.patients.pool.query('SELECT mrn FROM encounter WHERE id = 990001')).rows).toEqual([{ mrn: '900401' }]);
    expect(await conflicts()).toBe(before);
  });

  it('create first: the service\'s change goes over to the row the create made and the old row goes; one person, no conflict', async () => {
    const mrn = seeded[1]!;
    const before = await conflicts();
    await renameMeetsPut(mrn, '900402', 'create first');
    expect(await rows([mrn, '900402'])).toEqual([{ mrn: '900402', family_name: 'PUTAFTER', city: 'LEGACYCITY', pending: expect.arrayContaining(['lastName']) }]);
    expect(await conflicts()).toBe(before);
  });

  it('without a change of the service\'s own the key change goes the usual way: the old row deleted, the new one the legacy\'s', async () => {
    const mrn = seeded[2]!;
    const current = JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as LegacyPatient;
    const old = patientTopicRow(current) as unknown as Record<string, unknown>;
    await scene.cdc.publish([
      { ...scene.cdc.event('patients', 'delete', { mrn }, old, null), movedTo: { mrn: '900403' } },
      { ...scene.cdc.event('patients', 'create', { mrn: '900403' }, null, { ...old, mrn: '900403' }), movedFrom: { mrn } },
    ]);
    await scene.drain();
    expect((await rows([mrn, '900403'])).map((r) => [r.mrn, r.family_name])).toEqual([['900403', current.lastName]]);
  });
});
