/**
 * The emergency override file (break glass): a gateway on a real rule store, a rule flipped to
 * its new service, and the file, written by hand as an engineer would, sends it back to legacy
 * at once, loudly (route header, /readyz, metric, GET /api/rules, the audit log); a malformed
 * file changes nothing; a flip meanwhile is stored but does not win; removal restores the
 * version served. The store down as well: emergency-override-outage.test.ts.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { adminClient, seedRules, startStoreGateway, type AdminClient, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;
let dir: string;
let file: string;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'emergency_override');
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-emergency-'));
  file = path.join(dir, 'emergency-legacy.yaml');
  gw = await startStoreGateway({ storeUrl: db.url, redisUrl: inject('redisUrl'), files: seedRules(legacy.url, fresh.url), env: { FICUS_EMERGENCY_FILE: file } });
  admin = adminClient(gw.adminUrl);
  await flip('patients-read', 'new', 'patient-service takes reads');
  await untilRoute('/api/patients/100001', 'patients-read; patient-service');
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function flip(rule: string, mode: string, reason: string): Promise<void> {
  const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
  expect((await admin.post(`/api/rules/${rule}/flip`, { mode, reason, baseVersion: base })).status).toBe(200);
}

const route = async (p: string, method = 'GET') => (await fetch(gw.url + p, { method, ...(method === 'POST' ? { body: '{}' } : {}) })).headers.get('x-ficus-route');

async function untilRoute(p: string, want: string, method = 'GET'): Promise<number> {
  const end = Date.now() + 5_000;
  while (Date.now() < end) {
    if ((await route(p, method)) === want) return Date.now();
    await sleep(10);
  }
  throw new Error(`${method} ${p} never routed ${want} (last: ${await route(p, method)})`);
}

interface Ready {
  status: string;
  rules: { version: number };
  emergency?: { file: string; override?: { rules: unknown; reason?: string; by?: string; pinned: string[]; unknown: string[] }; lastRefused?: { issues: string[] } };
}
const ready = async () => {
  const r = await fetch(gw.url + '/readyz');
  return { code: r.status, body: (await r.json()) as Ready };
};
const overrideMetric = async (rule: string) => {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_emergency_override{rule="${rule}"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 5_000;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await sleep(20);
    v = await read();
  }
  return v;
}

describe('the emergency override file', () => {
  it('sends a rule flipped to its new service back to legacy, and says so everywhere', async () => {
    const before = legacy.received.length;
    const written = Date.now();
    writeFileSync(file, 'rules: [patients-read]\nreason: patient-service answers 500 since 02:10\nby: j.doe (integration on call)\n');
    const seen = await untilRoute('/api/patients/100001', 'patients-read; legacy (emergency)');
    console.log(`[measured] emergency override in effect ${seen - written} ms after the file was written`);
    expect(legacy.received.slice(before).some((r) => r.url === '/api/patients/100001')).toBe(true);
    // the other rules are as the store says: not marked
    expect(await route('/api/patients', 'POST')).toBe('patients-write; legacy');

    const r = await ready();
    expect(r.code).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(r.body.emergency?.override).toMatchObject({ rules: ['patients-read'], pinned: ['patients-read'], reason: 'patient-service answers 500 since 02:10', by: 'j.doe (integration on call)' });
    expect(await overrideMetric('patients-read')).toBe(1);
    expect(await overrideMetric('patients-write')).toBeUndefined();

    const rules = await admin.get<{ rules: { id: string; mode: string }[]; emergency?: { pinned: string[]; scope: string } }>('/api/rules');
    // the store's rules as stored (an export carries no override), the override beside them
    expect(rules.body.rules.find((x) => x.id === 'patients-read')?.mode).toBe('new');
    expect(rules.body.emergency).toMatchObject({ pinned: ['patients-read'], scope: 'instance' });
  });

  it('a malformed file is refused with file:line: reason, and the override in force stays', async () => {
    writeFileSync(file, 'rules: [patients-read]\nreson: typo\n');
    const r = await until(ready, (x) => x.body.emergency?.lastRefused !== undefined);
    expect(r.body.emergency?.lastRefused?.issues).toEqual([expect.stringMatching(/emergency-legacy\.yaml:2:1: unknown field "reson"/)]);
    expect(r.body.emergency?.override?.pinned).toEqual(['patients-read']);
    expect(await route('/api/patients/100001')).toBe('patients-read; legacy (emergency)');

    writeFileSync(file, 'rules: [patients-read\n');
    const broken = await until(ready, (x) => x.body.emergency?.lastRefused?.issues.some((i) => i.includes('YAML')) === true);
    expect(broken.body.emergency?.lastRefused?.issues[0]).toMatch(/emergency-legacy\.yaml:\d+:\d+: YAML: /);
    // emptied is not removed: the override stays until the file is gone
    writeFileSync(file, '');
    const emptied = await until(ready, (x) => x.body.emergency?.lastRefused?.issues.some((i) => i.includes('empty')) === true);
    expect(emptied.body.emergency?.lastRefused?.issues[0]).toMatch(/empty: .*remove the file/);
    expect(await route('/api/patients/100001')).toBe('patients-read; legacy (emergency)');
  });

  it('a flip meanwhile is stored, but the override wins and the answer says so', async () => {
    writeFileSync(file, 'rules: [patients-read]\nreason: still failing\nby: j.doe\n');
    await until(ready, (x) => x.body.emergency?.lastRefused === undefined);
    const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const answer = await admin.post<{ version: number; changed: boolean; warnings?: { ruleId: string; reason: string }[] }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 100, reason: 'try again', baseVersion: base });
    expect(answer.status).toBe(200);
    const body = answer.body;
    expect(body.changed).toBe(true);
    expect(body.warnings).toEqual([expect.objectContaining({ ruleId: 'patients-read', reason: expect.stringMatching(/emergency override .* holds this rule in legacy/) })]);
    // the new version reaches the instance (Redis): the override is folded into it
    expect((await until(ready, (x) => x.body.rules.version === answer.body.version)).body.rules.version).toBe(answer.body.version);
    for (let m = 0; m < 10; m++) expect(await route(`/api/patients/${100_000 + m}`)).toBe('patients-read; legacy (emergency)');
  });

  it('removing the file restores the version served (the flip made meanwhile included)', async () => {
    unlinkSync(file);
    await untilRoute('/api/patients/100001', 'patients-read; patient-service');
    const r = await ready();
    expect(r.body.emergency).toBeUndefined();
    expect(await overrideMetric('patients-read')).toBeUndefined();
    expect((await admin.get<{ emergency?: unknown }>('/api/rules')).body.emergency).toBeUndefined();
  });

  it('`rules: all` holds every HTTP rule in legacy; an unknown rule id is a warning, not a refusal', async () => {
    writeFileSync(file, 'rules: all\nreason: store and services down\nby: ops\n');
    await untilRoute('/api/patients/100001', 'patients-read; legacy (emergency)');
    expect(await route('/api/patients', 'POST')).toBe('patients-write; legacy (emergency)');
    expect(await route('/anything/else')).toBe('legacy-default; legacy (emergency)');
    expect((await ready()).body.emergency?.override?.pinned.sort()).toEqual(['legacy-default', 'patients-read', 'patients-write']);
    expect(await overrideMetric('legacy-default')).toBe(1);

    writeFileSync(file, 'rules: [patients-read, reports-read]\n');
    const r = await until(ready, (x) => x.body.emergency?.override?.unknown.length === 1);
    expect(r.body.emergency?.override).toMatchObject({ pinned: ['patients-read'], unknown: ['reports-read'] });
    expect(r.body.emergency?.lastRefused).toBeUndefined();
    await untilRoute('/api/patients', 'patients-write; legacy', 'POST');
    expect(await route('/api/patients/100001')).toBe('patients-read; legacy (emergency)');
    unlinkSync(file);
    await untilRoute('/api/patients/100001', 'patients-read; patient-service');
  });

  it('applying and removing it are in the audit log (rules.emergency), with who and why', async () => {
    type Entry = { action: string; actor: string; reason?: string; target?: string; detail: { event: string } };
    const entries = await until(
      async () => (await admin.get<{ entries: Entry[] }>('/api/audit?action=rules.emergency')).body.entries,
      (e) => e.length >= 6,
    );
    const first = entries.at(-1)!;
    expect(first).toMatchObject({ actor: 'emergency-file:j.doe (integration on call)', target: 'patients-read', reason: 'patient-service answers 500 since 02:10', detail: expect.objectContaining({ event: 'applied' }) });
    expect(entries[0]).toMatchObject({ detail: expect.objectContaining({ event: 'removed' }) });
  });
});
