/**
 * The dashboard's Conflicts panel in a real headless Chromium, against a real gateway whose
 * admin API passes /api/services/patient-service/* to a real patient-service (the system of
 * record, with a legacy screen's older changes recorded as conflicts by the real conflict rule,
 * as extracted-services/test/conflict-review.test.ts makes them) and results-service to an
 * address where nothing listens: the counts per service and topic with the oldest, the list
 * without field values, results-service said unavailable (not 0), a resolve through the
 * confirmation dialog with a reason (kept by the service), and a viewer's resolve disabled.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServiceConflicts } from '@ficus/contracts/api';
import type { LegacyPatient } from '@ficus/legacy-his';
import { patientTopicRow } from '@ficus/patient-service';
import type { OutboxSeam } from '@ficus/service-kit';
import { ensureTools } from '../../scripts/lib/system-tools.js';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { ask, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { eventually, RESULTS } from './support/dashboard-scene.js';
import { adminClient, seedRules, startStoreGateway, type AdminClient, type StoreGateway } from './support/store-gateway.js';

let scene: ServiceScene;
let store: TestDatabase;
let gw: StoreGateway;
let admin: AdminClient;
let redisDir: string;
let ownRedis: PrivateRedis;
let profile: string;
let context: BrowserContext;
let operatorToken: string;
let viewerToken: string;
let mrns: string[];
const outbox: OutboxSeam = async (tx) => void (await tx.query('SELECT 1'));
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
  await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, patientTopicRow({ ...was, lastName: screenName, lastUpdatedBy: 'CLERK' }), { commitTime: new Date(Date.now() - 60_000).toISOString() })]);
  await scene.drain();
}

beforeAll(async () => {
  ensureTools({ chromium: 'chromium' });
  buildDashboard();
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-dashboard-conflicts-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  store = await createTestDatabase(inject('databaseUrl'), 'dash_conflicts_store');
  scene = await startServiceScene({ prefix: 'dash_conflicts', redisDb: 0, redisUrl: ownRedis.url, patients: 4, seed: 7_272, systemOfRecord: 'service', storeUrl: store.url, outbox: { patients: outbox } });
  await scene.cdc.snapshot();
  await scene.drain();
  mrns = (await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 2')).rows.map((r) => r.pat_mrn);
  // results-service is left where nothing listens: the panel must say so, not show 0
  gw = await startStoreGateway({
    storeUrl: store.url,
    files: seedRules(scene.legacy.base, scene.patients.url),
    env: { FICUS_PATIENT_SERVICE_API_URL: scene.patients.url, FICUS_RESULTS_SERVICE_API_URL: 'http://127.0.0.1:9' },
  });
  admin = adminClient(gw.adminUrl);
  operatorToken = (await admin.post<{ token: string }>('/api/tokens', { name: 'ward-ops', role: 'operator', reason: 'dashboard test' })).body.token;
  viewerToken = (await admin.post<{ token: string }>('/api/tokens', { name: 'ward-viewer', role: 'viewer', reason: 'dashboard test' })).body.token;
  await conflictOn(mrns[0]!, 'OLDSCREEN');
  await conflictOn(mrns[1]!, 'OTHERSCREEN');

  mkdirSync(RESULTS, { recursive: true });
  profile = mkdtempSync(path.join(tmpdir(), 'ficus-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 1000 },
  });
}, 180_000);
afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await gw?.close();
  await scene?.close();
  await store?.drop();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

async function logIn(page: Page, token: string): Promise<void> {
  await page.goto(`${gw.adminUrl}/admin`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ficus migration dashboard' }).waitFor();
}

const cells = (page: Page, caption: RegExp) => page.locator('#conflicts').getByRole('table', { name: caption }).locator('tbody tr');

describe("the dashboard's Conflicts panel", () => {
  it('shows the unresolved per service and topic with the oldest, a service that does not answer as unavailable, and resolves one with a reason', async () => {
    const listed = (await admin.get<ServiceConflicts>(base)).body;
    const [newest, oldest] = listed.conflicts;
    const page = await context.newPage();
    await logIn(page, operatorToken);
    const panel = page.locator('#conflicts');
    const counts = cells(page, /^Legacy changes a new service kept aside/);
    await eventually(() => counts.allTextContents()).toEqual([expect.stringMatching(/^patient-servicepatients2\d+ (s|min) ago$/), expect.stringMatching(/^results-serviceunavailable — results-service is not running, or not reachable through the admin API \(HTTP 503: .*ECONNREFUSED/)]);
    // the oldest is the first conflict's time, as the service answers it
    expect(await counts.first().locator('td').last().getAttribute('title')).toBe(await page.evaluate((iso) => new Date(iso).toLocaleString(), oldest!.recordedAt));
    const list = cells(page, /^The newest unresolved/);
    expect(await list.allTextContents()).toEqual([
      expect.stringMatching(new RegExp(`ago\\s*patient-service${newest!.id}patientsmrn=${mrns[1]}update.*after this legacy change.*Resolve…$`)),
      expect.stringMatching(new RegExp(`ago\\s*patient-service${oldest!.id}patientsmrn=${mrns[0]}update.*Resolve…$`)),
    ]);
    // keys and reasons only: the legacy screens' values stay in the service (ficus conflicts show)
    expect(await panel.textContent()).not.toMatch(/OLDSCREEN|OTHERSCREEN|SERVICEWINS/);

    await panel.getByRole('button', { name: `Resolve conflict ${oldest!.id} of patient-service` }).click();
    const dialog = page.getByRole('dialog', { name: `Resolve conflict ${oldest!.id} of patient-service` });
    // no reason, no resolve
    expect(await dialog.getByRole('button', { name: 'Resolve' }).isDisabled()).toBe(true);
    await dialog.getByLabel(/^Reason/).fill('address re-entered in the service');
    await dialog.getByRole('button', { name: 'Resolve' }).click();
    await eventually(() => panel.getByRole('status').textContent()).toBe(`patient-service conflict ${oldest!.id} (patients mrn=${mrns[0]}) resolved`);
    await eventually(() => counts.first().textContent()).toMatch(/^patient-servicepatients1/);
    expect(await list.count()).toBe(1);
    const all = (await admin.get<ServiceConflicts>(`${base}?all=true`)).body.conflicts;
    expect(all.find((c) => c.id === oldest!.id)).toMatchObject({ resolvedBy: expect.stringMatching(/ward-ops/), resolutionNote: 'address re-entered in the service' });

    await page.screenshot({ path: path.join(RESULTS, 'dashboard-conflicts.png'), fullPage: true });
    await page.close();
  });

  it("shows a viewer the conflicts with the resolve disabled", async () => {
    const page = await context.newPage();
    await logIn(page, viewerToken);
    const list = cells(page, /^The newest unresolved/);
    await eventually(() => list.count()).toBe(1);
    const button = list.first().getByRole('button', { name: /^Resolve conflict \d+ of patient-service$/ });
    expect(await button.isDisabled()).toBe(true);
    expect(await button.getAttribute('title')).toBe('Operators resolve conflicts; your role is viewer');
    await page.close();
  });
});
