/**
 * A CDC update whose before image leaves out a field, on real queues and databases: what the
 * SQL Server source sends for a large-object column (varchar(max) and the like) an update did not
 * touch, for which SQL Server's change function gives NULL in the old-values row, not the value
 * (legacy-adapters/cdc src/mssql/update-mask.ts). The field was not changed by that update.
 *
 * Before, the merge read the missing field as NULL: a legacy edit of the phone, meeting a
 * service's own pending edit of that field, was taken for a legacy change of the field too,
 * made without the service's value, and recorded as a conflict. Here the patients' first name
 * stands in for such a column (the stand-in schema has none).
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
let ownRedis: PrivateRedis;
let redisDir: string;
let seeded: string[];
// the service's own changes stop here: no legacy writer runs in this file (its queue would never drain)
const noOutbox: OutboxSeam = async (tx) => {
  await tx.query('SELECT 1');
};

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-partial-before-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  scene = await startServiceScene({ prefix: 'svc_partial_before', redisDb: 1, redisUrl: ownRedis.url, patients: 20, seed: 1_207, systemOfRecord: 'service', outbox: { patients: noOutbox, results: noOutbox } });
  await scene.cdc.snapshot();
  await scene.drain();
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 4');
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await scene?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const servicePatient = async (mrn: string) => JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as LegacyPatient;
const put = async (mrn: string, change: Partial<LegacyPatient>) => {
  const read = await ask(scene.patients.url, `/api/patients/${mrn}`);
  const res = await ask(scene.patients.url, `/api/patients/${mrn}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'if-match': read.headers.etag! },
    body: JSON.stringify({ ...(JSON.parse(read.body) as LegacyPatient), ...change }),
  });
  expect(res.status, res.body).toBe(200);
  return JSON.parse(read.body) as LegacyPatient;
};
/** a topic row without the fields the source did not give */
const without = (row: Record<string, unknown>, ...fields: string[]) => Object.fromEntries(Object.entries(row).filter(([f]) => !fields.includes(f)));
const conflictsOf = async (mrn: string) =>
  (await scene.patients.pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE key = $1 ORDER BY id', [JSON.stringify({ mrn })])).rows.map((r) => r.reason);

describe('a legacy update whose before image leaves out a field it did not change', () => {
  it('is no change of that field: the service\'s own pending edit of it stays, with no conflict, and the rest is taken', async () => {
    const mrn = seeded[0]!;
    const was = await put(mrn, { firstName: 'SERVICENOTE' });
    // a legacy screen changed the phone; the old-values row gave no first name (a large value not touched)
    const after = patientTopicRow({ ...was, phone: '555-0111', lastUpdatedBy: 'CLERK' });
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, without(patientTopicRow(was), 'firstName'), after, { commitTime: minutes(1).toISOString() })]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ firstName: 'SERVICENOTE', phone: '555-0111' });
    expect(await conflictsOf(mrn)).toEqual([]);
    const pending = (await scene.patients.pool.query<{ f: string[] }>('SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', [mrn])).rows[0]!.f;
    expect(pending).toContain('firstName');
  });

  it('two legacy updates in one job, the field left out of the first and changed by the second: the second\'s change is taken', async () => {
    const mrn = seeded[1]!;
    const was = await put(mrn, { lastName: 'KEPT' });
    const first = scene.cdc.event('patients', 'update', { mrn }, without(patientTopicRow(was), 'firstName'), patientTopicRow({ ...was, phone: '555-0122' }), { commitTime: minutes(1).toISOString() });
    const second = scene.cdc.event('patients', 'update', { mrn }, first.after, { ...first.after!, firstName: 'SCREENNOTE' }, { commitTime: minutes(1).toISOString() });
    await scene.cdc.publish([first, second]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'KEPT', phone: '555-0122', firstName: 'SCREENNOTE' });
    expect(await conflictsOf(mrn)).toEqual([]);
  });
});
