/**
 * Break glass when the rule store is the incident: PostgreSQL and Redis both stopped, a rule
 * serving its new service, and the emergency override file still sends it back to legacy (the
 * admin API could not: it writes versions to the store). A gateway that starts during the
 * outage, from its last good copy, starts with the override. Once the store is back, the apply
 * and the removal are in its audit log.
 */
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '@ficus/contracts';
import { startPostgres, startPrivateRedis, STATE_DIR, type PrivatePostgres, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { adminClient, seedRules, startStoreGateway, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let servicesDir: string;
let pg: PrivatePostgres;
let redis: PrivateRedis;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let late: StoreGateway | undefined;
let dir: string;
let file: string;

beforeAll(async () => {
  servicesDir = path.join(STATE_DIR, `test-emergency-outage-${process.pid}`);
  pg = await startPostgres(servicesDir, () => undefined);
  redis = await startPrivateRedis(servicesDir, () => undefined);
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-emergency-'));
  file = path.join(dir, 'emergency-legacy.yaml');
  gw = await startStoreGateway({ storeUrl: withDatabase(pg.url, 'ficus_gateway'), redisUrl: redis.url, files: seedRules(legacy.url, fresh.url), env: { FICUS_EMERGENCY_FILE: file } });
  const admin = adminClient(gw.adminUrl);
  const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
  expect((await admin.post('/api/rules/patients-read/flip', { mode: 'new', reason: 'patient-service takes reads', baseVersion: base })).status).toBe(200);
  await untilRoute(gw, 'patients-read; patient-service');
}, 120_000);
afterAll(async () => {
  await late?.close();
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await redis?.stop().catch(() => undefined);
  await pg?.stop().catch(() => undefined);
  rmSync(servicesDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

const route = async (g: StoreGateway, mrn = 100_001) => (await fetch(`${g.url}/api/patients/${mrn}`)).headers.get('x-ficus-route');
const ready = async (g: StoreGateway) =>
  (await (await fetch(g.url + '/readyz')).json()) as { status: string; rules: { detail: { store: string; servingFrom: string } }; emergency?: { override?: { pinned: string[] } } };

async function untilRoute(g: StoreGateway, want: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (Date.now() < end) {
    if ((await route(g)) === want) return;
    await sleep(10);
  }
  throw new Error(`${g.url} never routed ${want} (last: ${await route(g)})`);
}

describe('the emergency override with the rule store down', () => {
  it('PostgreSQL and Redis stopped: the file still sends the rule to legacy, and the instance keeps serving', async () => {
    await redis.stop();
    await pg.stop();
    for (let i = 0; i < 100 && (await ready(gw)).rules.detail.store !== 'unreachable'; i++) await sleep(50);
    expect((await ready(gw)).rules.detail.store).toBe('unreachable');
    expect(await route(gw)).toBe('patients-read; patient-service');
    // the admin API cannot roll back now: that is why the file exists
    expect((await adminClient(gw.adminUrl).post('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'rollback', baseVersion: 2 })).status).toBeGreaterThanOrEqual(500);

    const before = legacy.received.length;
    writeFileSync(file, 'rules: [patients-read]\nreason: patient-service down, store down\nby: j.doe\n');
    await untilRoute(gw, 'patients-read; legacy (emergency)');
    for (let m = 0; m < 10; m++) expect(await route(gw, 100_000 + m)).toBe('patients-read; legacy (emergency)');
    expect(legacy.received.slice(before).filter((r) => r.url.startsWith('/api/patients/')).length).toBeGreaterThanOrEqual(10);
    const r = await ready(gw);
    expect(r.status).toBe('degraded');
    expect(r.emergency?.override?.pinned).toEqual(['patients-read']);
  });

  it('an instance that starts during the outage, from its last good copy, starts with the override', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-state-'));
    cpSync(path.join(gw.stateDir, 'last-good-rules.json'), path.join(stateDir, 'last-good-rules.json'));
    late = await startStoreGateway({ storeUrl: withDatabase(pg.url, 'ficus_gateway'), redisUrl: redis.url, files: seedRules(legacy.url, fresh.url), stateDir, env: { FICUS_EMERGENCY_FILE: file } });
    expect((await ready(late)).rules.detail.servingFrom).toBe('cache');
    expect(await route(late)).toBe('patients-read; legacy (emergency)');
  });

  it('once the store is back, the apply and the removal are in its audit log', async () => {
    unlinkSync(file);
    await untilRoute(gw, 'patients-read; patient-service');
    await pg.start();
    await redis.start();
    const admin = adminClient(gw.adminUrl);
    type Entry = { actor: string; target: string; detail: { event: string; instance: string } };
    let entries: Entry[] = [];
    for (let i = 0; i < 200 && entries.length < 4; i++) {
      const r = await admin.get<{ entries?: Entry[] }>('/api/audit?action=rules.emergency');
      entries = r.body?.entries ?? [];
      if (entries.length < 4) await sleep(50);
    }
    // two instances: each applied the file it reads, and each saw it go
    expect(entries.map((e) => e.detail.event).sort()).toEqual(['applied', 'applied', 'removed', 'removed']);
    expect(entries.every((e) => e.actor === 'emergency-file:j.doe' && e.target === 'patients-read')).toBe(true);
  });
});
