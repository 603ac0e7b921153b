/**
 * The review of a service's conflicts, end to end: patient-service holds the record, a legacy
 * screen's older change meets the service's own (the real conflict rule records it), and an
 * operator lists it (no field values), shows its change, and resolves it: directly on the
 * service, through the admin API's pass-through, and with `ficus conflicts`. Tokens are the
 * admin API's, in a real rule store; a wrong one gets 401 with a problem body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServiceConflictDetail, ServiceConflicts } from '@ficus/contracts/api';
import type { LegacyPatient } from '@ficus/legacy-his';
import { patientTopicRow } from '@ficus/patient-service';
import type { OutboxSeam } from '@ficus/service-kit';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { ask, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { requestFrom } from '../../test-support/from-address.js';
import { ADMIN_TOKEN, adminClient, roleClient, seedRules, startStoreGateway, type AdminClient, type StoreGateway } from '../../gateway/test/support/store-gateway.js';
import { ficusRunner, type Run } from '../../cli/test/support/cli-scene.js';

let scene: ServiceScene;
let store: TestDatabase;
let gw: StoreGateway;
let admin: AdminClient;
let viewer: AdminClient;
let redisDir: string;
let ownRedis: PrivateRedis;
let home: string;
let ficus: ReturnType<typeof ficusRunner>;
const runs: Run[] = [];
let mrns: string[];
const outbox: OutboxSeam = async (tx) => void (await tx.query('SELECT 1'));

const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const base = '/api/services/patient-service/conflicts';

/** the service changes the patient, then a legacy screen's change saved a minute before it arrives by CDC */
async function conflictOn(mrn: string, screenName: string): Promise<void> {
  const read = await ask(scene.patients.url, `/api/patients/${mrn}`);
  const was = JSON.parse(read.body) as LegacyPatient;
  const put = await ask(scene.patients.url, `/api/patients/${mrn}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'if-match': read.headers.etag! },
    body: JSON.stringify({ ...was, lastName: 'SERVICEWINS' }),
  });
  expect(put.status, put.body).toBe(200);
  await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, patientTopicRow({ ...was, lastName: screenName, lastUpdatedBy: 'CLERK' }), { commitTime: minutes(-1).toISOString() })]);
  await scene.drain();
}

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-conflict-review-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  store = await createTestDatabase(inject('databaseUrl'), 'svc_review_store');
  scene = await startServiceScene({ prefix: 'svc_review', redisDb: 0, redisUrl: ownRedis.url, patients: 8, seed: 6_161, systemOfRecord: 'service', storeUrl: store.url, outbox: { patients: outbox } });
  await scene.cdc.snapshot();
  await scene.drain();
  mrns = (await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 2')).rows.map((r) => r.pat_mrn);
  // the admin API makes the store's schema and its admin token; results-service is left unreachable on purpose
  gw = await startStoreGateway({
    storeUrl: store.url,
    files: seedRules(scene.legacy.base, scene.patients.url),
    env: { FICUS_PATIENT_SERVICE_API_URL: scene.patients.url, FICUS_RESULTS_SERVICE_API_URL: 'http://127.0.0.1:9' },
  });
  admin = adminClient(gw.adminUrl);
  viewer = await roleClient(admin, gw.adminUrl, 'conflict-viewer', 'viewer');
  home = mkdtempSync(path.join(tmpdir(), 'ficus-conflicts-cli-'));
  ficus = ficusRunner(gw.adminUrl, home, runs);
  await conflictOn(mrns[0]!, 'OLDSCREEN');
  await conflictOn(mrns[1]!, 'OTHERSCREEN');
});
afterAll(async () => {
  await gw?.close();
  await scene?.close();
  await store?.drop();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('conflicts of a service, for review', () => {
  it('refuses a caller without a valid token (401, a problem body), on the service and through the admin API', async () => {
    for (const url of [scene.patients.url, gw.adminUrl]) {
      const wrong = await fetch(url + base, { headers: { authorization: 'Bearer ficus_not-a-token-at-all-0123456789' } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await wrong.json()).toMatchObject({ status: 401, title: 'Authentication required' });
      expect((await fetch(url + base)).status).toBe(401);
    }
    // the service's own routes are no admin API and keep their contract
    const own = await fetch(`${scene.patients.url}/api/patients/${mrns[0]}`);
    expect(own.status).toBe(200);
    expect(own.headers.get('x-ficus-admin-api')).toBeNull();
  });

  it('lists the conflicts the rule recorded, per topic, with key, reason and times but no field values', async () => {
    const r = await viewer.get<ServiceConflicts>(base);
    expect(r.status).toBe(200);
    expect(r.body.conflicts.map((c) => c.key)).toEqual([{ mrn: mrns[1] }, { mrn: mrns[0] }]);
    // the oldest is the first recorded, for the dashboard's "waiting since" and the alert's age
    expect(r.body.unresolved).toEqual([{ topic: 'patients', count: 2, oldest: r.body.conflicts[1]!.recordedAt }]);
    const c = r.body.conflicts[1]!;
    expect(c).toMatchObject({ service: 'patient-service', topic: 'patients', op: 'update', source: expect.any(String), position: expect.any(String), reason: expect.stringContaining('after this legacy change'), resolvedAt: null });
    expect(Date.parse(c.commitTime!)).toBeLessThan(Date.parse(c.recordedAt));
    expect(JSON.stringify(r.body)).not.toMatch(/OLDSCREEN|OTHERSCREEN/);
    // by key, and a page at a time
    expect((await viewer.get<ServiceConflicts>(`${base}?key=${mrns[0]}`)).body.conflicts.map((x) => x.key)).toEqual([{ mrn: mrns[0] }]);
    expect((await viewer.get<ServiceConflicts>(`${base}?key=${encodeURIComponent(JSON.stringify({ mrn: mrns[1] }))}`)).body.conflicts.map((x) => x.key)).toEqual([{ mrn: mrns[1] }]);
    const first = await viewer.get<ServiceConflicts>(`${base}?limit=1`);
    expect(first.body.conflicts).toHaveLength(1);
    const second = await viewer.get<ServiceConflicts>(`${base}?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ conflicts: [{ key: { mrn: mrns[0] } }], nextCursor: null });
    expect((await viewer.get<ServiceConflicts>(`${base}?topic=admissions`)).body.conflicts).toEqual([]);
    expect((await viewer.get(`${base}?since=yesterday`)).status).toBe(400);
  });

  it('shows one with the change the service did not apply to an operator (patient data), each look on the audit log, a viewer refused', async () => {
    const [listed] = (await viewer.get<ServiceConflicts>(`${base}?key=${mrns[0]}`)).body.conflicts;
    const refused = await viewer.get(`${base}/${listed!.id}`);
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).not.toContain('OLDSCREEN');
    const shown = await admin.get<ServiceConflictDetail>(`${base}/${listed!.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ ...listed, change: { before: null, after: { mrn: mrns[0], lastName: 'OLDSCREEN' } } });
    expect((await admin.get(`${base}/999999`)).status).toBe(404);
    const audit = new pg.Pool({ connectionString: store.url, max: 1 });
    try {
      const { rows } = await audit.query<{ target: string; outcome: string }>("SELECT target, outcome FROM audit_log WHERE action = 'conflicts.view' AND target = $1 ORDER BY id", [`patient-service conflict ${listed!.id}`]);
      expect(rows.map((r) => r.outcome)).toEqual(['denied', 'ok']);
    } finally {
      await audit.end();
    }
  });

  it('resolves one (operator): who and why stay with it, it leaves the default list and the gauge, and the audit log has it', async () => {
    const [listed] = (await admin.get<ServiceConflicts>(`${base}?key=${mrns[0]}`)).body.conflicts;
    expect((await viewer.post(`${base}/${listed!.id}/resolve`, { reason: 'looked at it' })).status).toBe(403);
    const resolved = await admin.post<{ conflict: { resolvedBy: string; resolutionNote: string; resolvedAt: string } }>(`${base}/${listed!.id}/resolve`, { reason: 'address re-entered in the service' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.conflict).toMatchObject({ resolvedBy: expect.stringMatching(/^token:/), resolutionNote: 'address re-entered in the service', resolvedAt: expect.any(String) });
    const open = (await admin.get<ServiceConflicts>(base)).body;
    expect(open.conflicts.map((c) => c.key)).toEqual([{ mrn: mrns[1] }]);
    expect(open.unresolved).toEqual([{ topic: 'patients', count: 1, oldest: open.conflicts[0]!.recordedAt }]);
    const all = (await admin.get<ServiceConflicts>(`${base}?all=true`)).body.conflicts;
    expect(all.map((c) => [c.key, c.resolvedAt !== null])).toEqual([
      [{ mrn: mrns[1] }, false],
      [{ mrn: mrns[0] }, true],
    ]);
    const again = await admin.post(`${base}/${listed!.id}/resolve`, { reason: 'twice' });
    expect(again).toMatchObject({ status: 409, body: { title: 'Already resolved' } });
    const audit = new pg.Pool({ connectionString: store.url, max: 1 });
    try {
      const { rows } = await audit.query<{ target: string; outcome: string; reason: string }>("SELECT target, outcome, reason FROM audit_log WHERE action = 'conflicts.resolve' ORDER BY id");
      expect(rows).toEqual([
        { target: `patient-service conflict ${listed!.id}`, outcome: 'denied', reason: 'looked at it' },
        { target: `patient-service conflict ${listed!.id}`, outcome: 'ok', reason: 'address re-entered in the service' },
        { target: `patient-service conflict ${listed!.id}`, outcome: 'conflict', reason: 'twice' },
      ]);
    } finally {
      await audit.end();
    }
    // the gauge is read at most every 10 s: its first read is now, after the resolve
    const metrics = (await ask(scene.patients.url, '/metrics')).body;
    expect(metrics).toMatch(/^ficus_service_conflicts_unresolved\{topic="patients",service="patient-service"\} 1$/m);
    expect(metrics).toMatch(/^ficus_service_conflicts_unresolved\{topic="admissions",service="patient-service"\} 0$/m);
    // the age of the one left (recorded seconds ago, not hours), and 0 for a topic with none
    const age = Number(/^ficus_service_conflicts_oldest_unresolved_seconds\{topic="patients",service="patient-service"\} (\S+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(600);
    expect(metrics).toMatch(/^ficus_service_conflicts_oldest_unresolved_seconds\{topic="admissions",service="patient-service"\} 0$/m);
  });

  // each CLI run is a process of its own (a second or more under load): the runs are split over tests to stay far from the timeout
  let id: string;
  it('ficus conflicts list and show print them', async () => {
    const listed = await ficus(['conflicts', 'list', '--service', 'patient-service']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/SERVICE\s+TOPIC\s+UNRESOLVED\s+OLDEST\npatient-service\s+patients\s+1\s+\d{4}-\d\d-\d\dT[\d:.]+Z\n/);
    expect(listed.stdout).toMatch(new RegExp(`SERVICE\\s+ID\\s+TOPIC\\s+KEY\\s+OP\\s+COMMITTED\\s+RECORDED\\s+REASON\\npatient-service\\s+(\\d+)\\s+patients\\s+mrn=${mrns[1]}\\s+update\\s`));
    expect(listed.stdout).not.toContain('OTHERSCREEN');
    id = /\npatient-service\s+(\d+)\s+patients/.exec(listed.stdout)![1]!;

    const shown = await ficus(['conflicts', 'show', 'patient-service', id, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, key: { mrn: mrns[1] }, change: { after: { lastName: 'OTHERSCREEN' } } });
    const shownText = await ficus(['conflicts', 'show', 'patient-service', id]);
    expect(shownText.stdout).toMatch(new RegExp(`^conflict:\\s+patient-service ${id}\\n`));
    expect(shownText.stdout).toContain('"lastName": "OTHERSCREEN"');
  });

  it('ficus conflicts list names a service that does not answer (exit 4) and a refused token', async () => {
    const both = await ficus(['conflicts', 'list', '--json']);
    expect(both.code).toBe(4);
    expect(JSON.parse(both.stdout)).toMatchObject({ services: [{ service: 'patient-service', conflicts: [{ id }] }], unavailable: [{ service: 'results-service', status: 503 }] });
    expect(both.stderr).toContain('results-service');

    const refused = await ficus(['conflicts', 'list', '--service', 'patient-service'], { env: { FICUS_TOKEN: 'ficus_wrong-token-0123456789abcdefghij' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refused (401)');
  });

  it('ficus conflicts resolve marks it reviewed: the list is empty then', async () => {
    const resolved = await ficus(['conflicts', 'resolve', 'patient-service', id, '--reason', 'legacy screen retired']);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain(`resolved patient-service conflict ${id} (patients mrn=${mrns[1]})`);
    const none = await ficus(['conflicts', 'list', '--service', 'patient-service']);
    expect(none.stdout).toContain('no unresolved conflicts');
    expect(runs.map((r) => r.stdout + r.stderr).join('')).not.toContain(ADMIN_TOKEN);
  });

  it("audits a look through the admin API with the caller's address, and a forged X-Forwarded-For from an untrusted peer with the peer's", async () => {
    const [c] = (await admin.get<ServiceConflicts>(`${base}?all=true&key=${mrns[0]}`)).body.conflicts;
    const audit = new pg.Pool({ connectionString: store.url, max: 1 });
    try {
      const before = (await audit.query<{ id: string | null }>('SELECT max(id)::text AS id FROM audit_log')).rows[0]!.id ?? '0';
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
      // the caller at 127.0.0.3 asks the admin API, which passes it on from 127.0.0.1 (a proxy the service trusts) naming the caller
      expect((await requestFrom('127.0.0.3', `${gw.adminUrl}${base}/${c!.id}`, { headers })).status).toBe(200);
      // a caller at 127.0.0.2 (no proxy the service trusts) claims another address: not believed
      expect((await requestFrom('127.0.0.2', `${scene.patients.url}${base}/${c!.id}`, { headers: { ...headers, 'x-forwarded-for': '10.6.6.6' } })).status).toBe(200);
      const { rows } = await audit.query<{ action: string; source_ip: string }>('SELECT action, source_ip FROM audit_log WHERE id > $1::bigint ORDER BY id', [before]);
      expect(rows).toEqual([
        { action: 'conflicts.view', source_ip: '127.0.0.3' },
        { action: 'conflicts.view', source_ip: '127.0.0.2' },
      ]);
    } finally {
      await audit.end();
    }
  });
});
