/**
 * The CDC deployable's audit log names the admin API's caller, not the admin API: /api/cdc/* is
 * passed through from 127.0.0.1 (a proxy CDC_API_TRUSTED_PROXIES trusts by default) with the
 * caller in X-Forwarded-For, as the HL7 adapter believes it. A caller reaching the CDC API
 * directly from a peer it does not trust (127.0.0.2) and claiming another address is recorded
 * at its own. Real rule store (PostgreSQL), Redis, gateway and sockets; the CDC API is started
 * alone (no source streams: only its audited routes are asked).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, openStore, type OpenStore } from '@ficus/contracts';
import { DeadLetterDesk } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { requestFrom } from '../../../test-support/from-address.js';
import { until } from '../../../test-support/until.js';
import { ADMIN_TOKEN, seedRules, startStoreGateway, type StoreGateway } from '../../../gateway/test/support/store-gateway.js';
import type { CdcSource } from '../src/cdc-service.js';
import { loadCdcConfig } from '../src/config.js';
import { startCdcApi, type RunningApi } from '../src/ops/cdc-api.js';
import type { CdcMetrics } from '../src/ops/metrics.js';

let store: TestDatabase;
let control: OpenStore;
let desk: DeadLetterDesk;
let api: RunningApi;
let gw: StoreGateway;
const dirs: string[] = [];

beforeAll(async () => {
  store = await createTestDatabase(inject('databaseUrl'), 'cdc_api_source');
  const rulesDir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-api-rules-'));
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-api-state-'));
  dirs.push(rulesDir, stateDir);
  const files = seedRules('http://127.0.0.1:9', 'http://127.0.0.1:9');
  for (const [f, yaml] of Object.entries(files)) writeFileSync(path.join(rulesDir, f), yaml);
  const log = createLogger('cdc-api-test', { level: 'silent' });
  control = await openStore({ url: store.url, rulesDir, stateDir, adminToken: undefined, log, bootstrapToken: false });
  desk = DeadLetterDesk.open(inject('redisUrl'), { families: () => [] });
  const config = loadCdcConfig({ CDC_API_HOST: '127.0.0.1', CDC_API_PORT: '0', FICUS_STORE_URL: store.url });
  const source = { name: 'legacy', kind: 'postgres', status: () => ({ name: 'legacy', kind: 'postgres', state: 'streaming' }), slotLagBytes: async () => null } as unknown as CdcSource;
  api = await startCdcApi(config, { control, metrics: {} as CdcMetrics, log, source, writer: undefined, deadLetters: desk, topics: () => ({}) });
  gw = await startStoreGateway({ storeUrl: store.url, files, env: { FICUS_CDC_API_URL: `http://127.0.0.1:${api.port}` } });
});
afterAll(async () => {
  await gw?.close();
  await api?.app.close();
  await desk?.close();
  await control?.close();
  await store?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the CDC API's audit log", () => {
  it("names the admin API's caller, and not a forged X-Forwarded-For from a peer it does not trust", async () => {
    const discard = (from: string, url: string, headers: Record<string, string> = {}) =>
      requestFrom(from, `${url}/api/cdc/queues/dead-letters/discard`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ queue: 'cdc.nosuch.p0', id: '1', reason: `from ${from}` }),
      });
    const through = await discard('127.0.0.3', gw.adminUrl);
    const direct = await discard('127.0.0.2', `http://127.0.0.1:${api.port}`, { 'x-forwarded-for': '10.6.6.6' });
    expect(direct.status, direct.body).toBe(through.status);
    // a refusal's entry is written as the answer goes out: waited for
    const rows = await until(async () => {
      const r = await control.pool.query<{ action: string; reason: string; source_ip: string }>("SELECT action, reason, source_ip FROM audit_log WHERE action LIKE 'cdc.%' ORDER BY id");
      return r.rows.length >= 2 ? r.rows : undefined;
    }, 'two audit entries');
    expect(rows).toEqual([
      { action: 'cdc.dead-letter.discard', reason: 'from 127.0.0.3', source_ip: '127.0.0.3' },
      { action: 'cdc.dead-letter.discard', reason: 'from 127.0.0.2', source_ip: '127.0.0.2' },
    ]);
  });
});
