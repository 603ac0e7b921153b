/**
 * A service whose feed from the legacy has stopped does not answer reads from its stale copy:
 * the real CDC reader (a child process), the legacy HIS, patient-service (legacy holds the
 * record) and the gateway (patients-read in mode new). With the reader running and nothing
 * changing, heartbeats keep the service fresh and it answers. With the reader stopped
 * (SIGSTOP) beyond SERVICE_MAX_FEED_LAG_MS, a patient registered in the legacy and an edit made
 * there are answered by the legacy through the gateway (`(fallback)`), the service's circuit
 * stays closed, and the service itself answers 503 `x-ficus-stale`. When the reader goes on,
 * the service answers again, with what it missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { buildLegacyHis } from '@ficus/legacy-his';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { startScene, until, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { startGatewayUnderTest, upstreamsYaml, type GatewayUnderTest } from '../../gateway/test/support/gateway-harness.js';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';

const MAX_LAG_MS = 1_500;
const rules = `
http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: new
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

let s: Scene;
let cdc: CdcProcess;
let ownRedis: PrivateRedis;
let redisDir: string;
let legacyApp: FastifyInstance;
let legacyBase: string;
let serviceDb: TestDatabase;
let service: RunningPatientService;
let gw: GatewayUnderTest;

async function get(base: string, path: string) {
  const res = await fetch(base + path);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, route: res.headers.get('x-ficus-route'), stale: res.headers.get('x-ficus-stale') };
}

async function feed(): Promise<{ lagMs: number | null; reads: string }> {
  return (await get(service.url, '/readyz')).body.feed as { lagMs: number | null; reads: string };
}

async function gatewayMetric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

beforeAll(async () => {
  // the shipped topic names (the services consume those), on a Redis of this file's own: every
  // database of the shared one is some other file's
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-stale-feed-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  const redisUrl = ownRedis.url;
  s = await startScene({ name: 'stale_feed', seedPatients: 20, mapping: (topics) => topics.map((t) => ({ ...t, topic: t.topic.replace(/-[0-9a-f]{6}$/, '') })) });
  cdc = await s.start({ REDIS_URL: redisUrl, CDC_WRITEBACK_SERVICES: '', CDC_HEARTBEAT_MS: '200', CDC_STATUS_INTERVAL_MS: '200', LOG_LEVEL: 'warn' });
  legacyApp = await buildLegacyHis({ pool: s.legacyPool });
  await legacyApp.listen({ port: 0, host: '127.0.0.1' });
  legacyBase = `http://127.0.0.1:${(legacyApp.server.address() as AddressInfo).port}`;
  serviceDb = await createTestDatabase(inject('databaseUrl'), 'stale_feed_patients');
  const log = createLogger('stale-feed-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  service = await startPatientService(
    loadPatientServiceConfig({
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: redisUrl,
      PATIENT_SERVICE_HOST: '127.0.0.1',
      PATIENT_SERVICE_PORT: '0',
      PATIENT_SERVICE_DATABASE_URL: serviceDb.url,
      PATIENT_SERVICE_SYSTEM_OF_RECORD: 'legacy',
      SERVICE_MAX_FEED_LAG_MS: String(MAX_LAG_MS),
      SERVICE_SHUTDOWN_TIMEOUT_MS: '3000',
    }),
    log,
    { retry: { attempts: 3, baseMs: 20, maxMs: 50 } },
  );
  gw = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacyBase, 'patient-service': service.url }), 'b.yaml': rules });
  // the snapshot in the service
  await until(async () => ((await get(service.url, '/api/patients/100020')).status === 200 ? true : undefined), 'the snapshot in patient-service');
});

afterAll(async () => {
  if (cdc && cdc.child.exitCode === null && cdc.child.signalCode === null) cdc.child.kill('SIGCONT');
  await gw?.close();
  await service?.close();
  await legacyApp?.close();
  await cdc?.stop();
  await serviceDb?.drop();
  await s?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

describe('reads while the feed from the legacy is stopped', () => {
  it('an idle feed stays fresh: heartbeats, not changes, keep the service answering', async () => {
    await sleep(MAX_LAG_MS + 1_000); // nothing changes meanwhile
    const f = await feed();
    expect(f.reads).toBe('SERVED');
    expect(f.lagMs).not.toBeNull();
    expect(f.lagMs!).toBeLessThan(MAX_LAG_MS);
    expect(await get(gw.url, '/api/patients/100003')).toMatchObject({ status: 200, route: 'patients-read; patient-service' });
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(/^ficus_service_cdc_feed_lag_seconds\{service="patient-service"\} \d/m);
  });

  let mrn = '';
  it('with the CDC reader stopped, a patient registered in the legacy and an edit made there are answered by the legacy, and the circuit stays closed', async () => {
    cdc.child.kill('SIGSTOP');
    const created = await fetch(`${legacyBase}/api/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lastName: 'ZZSTALEFEED', firstName: 'QQNEW', dateOfBirth: '1990-03-04', sex: 'F' }),
    });
    expect(created.status).toBe(201);
    mrn = ((await created.json()) as { mrn: string }).mrn;
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'MOVED WHILE CDC STOPPED' WHERE PAT_MRN = '100003'");

    await until(async () => ((await feed()).reads === 'REFUSED' ? true : undefined), 'the service to know its feed is stale');
    const fallbacksBefore = await gatewayMetric('ficus_fallbacks_total', 'reason="stale-feed"');
    const registered = await get(gw.url, `/api/patients/${mrn}`);
    expect(registered).toMatchObject({ status: 200, route: 'patients-read; legacy (fallback)' });
    expect(registered.body).toMatchObject({ mrn, lastName: 'ZZSTALEFEED' });
    for (let i = 0; i < 5; i++) {
      const edited = await get(gw.url, '/api/patients/100003');
      expect(edited).toMatchObject({ status: 200, route: 'patients-read; legacy (fallback)' });
      expect(edited.body).toMatchObject({ address: { city: 'MOVED WHILE CDC STOPPED' } });
    }
    expect(await gatewayMetric('ficus_fallbacks_total', 'reason="stale-feed"')).toBe(fallbacksBefore + 6);
    // not broken, only behind: the breaker (failureThreshold 3) stays closed
    expect(await gatewayMetric('ficus_circuit_state', 'upstream="patient-service"')).toBe(0);

    // asked directly, the service says so rather than answer 404 or the old city
    const direct = await get(service.url, `/api/patients/${mrn}`);
    expect(direct).toMatchObject({ status: 503, stale: 'feed-lag' });
    expect((await get(service.url, '/readyz')).status).toBe(200);
  });

  it('when the reader goes on, the service answers again, with what it missed', async () => {
    cdc.child.kill('SIGCONT');
    // within the bound a read may miss what the last SERVICE_MAX_FEED_LAG_MS brought (a 404 here): the bound is that tolerance
    const back = await until(async () => {
      const r = await get(gw.url, `/api/patients/${mrn}`);
      return r.route === 'patients-read; patient-service' && r.status === 200 ? r : undefined;
    }, 'reads to go to the service again');
    expect(back.body).toMatchObject({ mrn, lastName: 'ZZSTALEFEED' });
    expect((await get(gw.url, '/api/patients/100003')).body).toMatchObject({ address: { city: 'MOVED WHILE CDC STOPPED' } });
    // the state is read from the feed's heartbeats, which a loaded machine delays past the bound now and then: it settles on SERVED
    await until(async () => ((await feed()).reads === 'SERVED' ? true : undefined), 'the feed to be served again');
  });
});
