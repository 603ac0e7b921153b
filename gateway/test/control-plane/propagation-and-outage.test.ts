/**
 * Two gateway instances on one rule store (a private PostgreSQL this test stops and starts):
 * a flip is in effect on both within a second, seen through real requests; with the store
 * down both keep serving their last good rules and say so; a third instance starts from its
 * last good copy on disk; and when the store is back, the next flip reaches everyone.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '@ficus/contracts';
import { REPO_ROOT, startPostgres, STATE_DIR, type PrivatePostgres } from '../../../scripts/lib/local-services.js';
import { ADMIN_TOKEN, adminClient, seedRules, startStoreGateway, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

const run = promisify(execFile);

let pgServer: PrivatePostgres;
let pgDir: string;
let legacy: TestUpstream;
let fresh: TestUpstream;
let a: StoreGateway;
let b: StoreGateway;
let c: StoreGateway | undefined;
let storeUrl: string;

beforeAll(async () => {
  pgDir = path.join(STATE_DIR, `test-outage-${process.pid}`);
  pgServer = await startPostgres(pgDir, () => undefined);
  storeUrl = withDatabase(pgServer.url, 'ficus_gateway');
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  const files = seedRules(legacy.url, fresh.url);
  a = await startStoreGateway({ storeUrl, redisUrl: inject('redisUrl'), files });
  b = await startStoreGateway({ storeUrl, redisUrl: inject('redisUrl'), files });
}, 120_000);
afterAll(async () => {
  await c?.close();
  await a?.close();
  await b?.close();
  await legacy?.close();
  await fresh?.close();
  await pgServer?.stop().catch(() => undefined);
  rmSync(pgDir, { recursive: true, force: true });
});

const route = async (gw: StoreGateway, mrn = 100_001) => (await fetch(`${gw.url}/api/patients/${mrn}`)).headers.get('x-ficus-route');
const ready = async (gw: StoreGateway) => (await (await fetch(gw.url + '/readyz')).json()) as { status: string; rules: { version: number; detail: { store: string; servingFrom: string } } };
const metric = async (gw: StoreGateway, name: string) => Number(/\n?([^\n]*)/.exec((await (await fetch(gw.url + '/metrics')).text()).split('\n').find((l) => l.startsWith(name + ' ')) ?? '')?.[1]?.split(' ')[1]);

/** flips through the admin API of `via`; answers the commit time and the new version */
async function flip(via: StoreGateway, mode: string, reason: string) {
  const admin = adminClient(via.adminUrl);
  const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
  const r = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode, reason, baseVersion: base });
  expect(r.status).toBe(200);
  const v = await admin.get<{ createdAt: string }>(`/api/versions/${r.body.version}`);
  return { version: r.body.version, committedAt: Date.parse(v.body.createdAt) };
}

async function untilRoute(gw: StoreGateway, want: string, ms = 5_000): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await route(gw)) === want) return Date.now();
    await sleep(10);
  }
  throw new Error(`${gw.url} never routed ${want}`);
}

describe('two gateway instances, one rule store', () => {
  it('a flip made through the CLI is in effect on both within a second, seen in real requests', async () => {
    expect(await route(a)).toBe('patients-read; legacy');
    expect(await route(b)).toBe('patients-read; legacy');
    // (not spawnSync: these gateways run in this very process and must keep answering)
    const cli = await run(process.execPath, [path.join(REPO_ROOT, 'cli/bin/ficus.js'), 'rules', 'flip', 'patients-read', '--mode', 'new', '--reason', 'both instances', '--json'], {
      env: { ...process.env, FICUS_ADMIN_URL: a.adminUrl, FICUS_TOKEN: ADMIN_TOKEN },
      encoding: 'utf8',
    });
    const { version } = JSON.parse(cli.stdout) as { version: number };
    const committedAt = Date.parse((await adminClient(a.adminUrl).get<{ createdAt: string }>(`/api/versions/${version}`)).body.createdAt);
    const [onA, onB] = await Promise.all([untilRoute(a, 'patients-read; patient-service'), untilRoute(b, 'patients-read; patient-service')]);
    console.log(`[measured] flip in effect ${onA - committedAt} ms (instance A) and ${onB - committedAt} ms (instance B) after its commit`);
    expect(onA - committedAt).toBeLessThan(1_000);
    expect(onB - committedAt).toBeLessThan(1_000);
  });

  it('with the store down, both keep serving the last good rules and report degraded; a new instance starts from its copy on disk', async () => {
    await pgServer.stop();
    for (const gw of [a, b]) {
      for (let i = 0; i < 100 && (await ready(gw)).status !== 'degraded'; i++) await sleep(50);
      const r = await ready(gw);
      expect(r.status).toBe('degraded');
      expect(r.rules.detail.store).toBe('unreachable');
      expect(await metric(gw, 'ficus_rule_store_up')).toBe(0);
      for (let m = 0; m < 20; m++) expect(await route(gw, 100_000 + m)).toBe('patients-read; patient-service');
    }
    // a third instance, store unreachable, with the last good copy instance A wrote
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-state-'));
    cpSync(path.join(a.stateDir, 'last-good-rules.json'), path.join(stateDir, 'last-good-rules.json'));
    c = await startStoreGateway({ storeUrl, redisUrl: inject('redisUrl'), files: seedRules(legacy.url, fresh.url), stateDir });
    expect(await route(c)).toBe('patients-read; patient-service');
    expect((await ready(c)).rules.detail.servingFrom).toBe('cache');
    expect((await ready(c)).status).toBe('degraded');
  });

  it('when the store is back, all catch up and a new flip propagates again', async () => {
    await pgServer.start();
    for (const gw of [a, b, c!]) {
      for (let i = 0; i < 200 && (await ready(gw)).status !== 'ready'; i++) await sleep(50);
      expect((await ready(gw)).status).toBe('ready');
      expect(await metric(gw, 'ficus_rule_store_up')).toBe(1);
    }
    const { committedAt } = await flip(b, 'legacy', 'store is back');
    const seen = await Promise.all([a, b, c!].map((gw) => untilRoute(gw, 'patients-read; legacy')));
    for (const t of seen) expect(t - committedAt).toBeLessThan(1_000);
  });
});
