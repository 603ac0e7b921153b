/**
 * The scene of the dashboard's browser tests: a real gateway on its rule store over two test
 * upstreams (the new service differing in one patient of four: parity 75 %, below the gate),
 * an operator's and a viewer's token, traffic for the figures, and Debian's Chromium with a
 * profile of its own. Each test file that calls useDashboardScene gets a scene of its own.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { ensureTools } from '../../../scripts/lib/system-tools.js';
import { buildDashboard } from '../../../scripts/build-dashboard.mjs';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { rawRequest } from './raw-http.js';
import { legacyHandler, mrnOf, patient, sendJson, settled } from './shadow-scene.js';
import { adminClient, startStoreGateway, type StoreGateway } from './store-gateway.js';
import { startTestUpstream, type TestUpstream } from './test-upstream.js';

export const RESULTS = path.resolve(import.meta.dirname, '../../../test-results');

export interface DashboardScene {
  db: TestDatabase;
  legacy: TestUpstream;
  fresh: TestUpstream;
  gw: StoreGateway;
  context: BrowserContext;
  profile: string;
  operatorToken: string;
  viewerToken: string;
}

const rules = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
  legacy-hl7: { url: "mllp://127.0.0.1:9" }
`,
  '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    compare: { sampleRate: 1 }
    parity: { threshold: 0.99, minCompared: 5 }
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters/:mrn }
    mode: legacy
    target: patient-service
  - id: patients-search
    match: { methods: [GET], path: /api/patients }
    mode: legacy
    target: patient-service
    sticky: { header: x-user-id }
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
  // for the rules table's HL7 rows: an emergency file naming an HL7 rule does not hold it on the gateway
  '20-hl7.yaml': `hl7:
  - id: adt-patient-events
    match: { messageTypes: [ADT] }
    mode: legacy
    target: patient-service
`,
});

/** Starts the scene before the file's tests and stops it after them; its fields are set once they run. */
export function useDashboardScene(name: string): DashboardScene {
  const s = {} as DashboardScene;
  beforeAll(async () => {
    ensureTools({ chromium: 'chromium' });
    buildDashboard();
    s.db = await createTestDatabase(inject('databaseUrl'), name);
    s.legacy = await startTestUpstream('legacy', legacyHandler());
    // the new service differs in one patient of four: parity 75 %, below the gate
    s.fresh = await startTestUpstream('new', (req, res) => {
      const mrn = mrnOf(req);
      sendJson(res, 200, Number(mrn) % 4 === 0 ? { ...patient(mrn), name: 'OTHER^NAME' } : patient(mrn));
    });
    s.gw = await startStoreGateway({ storeUrl: s.db.url, files: rules(s.legacy.url, s.fresh.url), env: { FICUS_PARITY_FLUSH_MS: '200' } });
    const api = adminClient(s.gw.adminUrl);
    s.operatorToken = (await api.post<{ token: string }>('/api/tokens', { name: 'ward-ops', role: 'operator', reason: 'dashboard test' })).body.token;
    s.viewerToken = (await api.post<{ token: string }>('/api/tokens', { name: 'ward-viewer', role: 'viewer', reason: 'dashboard test' })).body.token;
    for (let mrn = 1; mrn <= 8; mrn++) await rawRequest(s.gw.url, 'GET', `/api/patients/${mrn}`);
    await rawRequest(s.gw.url, 'GET', '/api/encounters/1');
    await settled(s.gw.gateway, 'patients-read', 8);
    await s.gw.gateway.traffic?.flush();

    mkdirSync(RESULTS, { recursive: true });
    s.profile = mkdtempSync(path.join(tmpdir(), 'ficus-chromium-'));
    s.context = await chromium.launchPersistentContext(s.profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1360, height: 1000 },
    });
  }, 180_000);
  afterAll(async () => {
    await s.context?.close();
    if (s.profile) rmSync(s.profile, { recursive: true, force: true });
    await s.gw?.close();
    await s.legacy?.close();
    await s.fresh?.close();
    await s.db?.drop();
  });
  return s;
}

export async function logIn(s: DashboardScene, page: Page, token: string): Promise<void> {
  await page.goto(`${s.gw.adminUrl}/admin`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ficus migration dashboard' }).waitFor();
}

/** Polls until the page shows it; generous, as the page refreshes every 2 s and the machine may be busy. */
export const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 100 });

export const row = (page: Page, rule: string) => page.locator(`tr[data-rule="${rule}"]`);

export const admin = (s: DashboardScene) => adminClient(s.gw.adminUrl);
export const latest = async (s: DashboardScene) => (await admin(s).get<{ versions: { version: number; author: string }[] }>('/api/versions?limit=1')).body.versions[0]!;
export const ruleNow = async (s: DashboardScene, id: string) => (await admin(s).get<{ rule: { mode: string; percent?: number } }>(`/api/rules/${id}`)).body.rule;
