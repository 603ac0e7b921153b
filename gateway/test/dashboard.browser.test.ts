/**
 * The dashboard in a real headless Chromium (Debian's package) against a real gateway, its
 * admin API and rule store: log in with a token, see the rules with their parity and traffic,
 * flip one through the confirmation dialog (keyboard only), see the change in the page and in a
 * real request through the gateway; a gated flip is refused with its figures; a viewer sees no
 * flip, rollback or replay button. The HL7 and CDC panels say "not running" against this
 * branch's admin API (no forwarder to the adapter or the CDC reader here), then render their
 * contract's answers served by the browser's request interception. A screenshot goes to
 * test-results/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTools } from '../../scripts/lib/system-tools.js';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { rawRequest } from './support/raw-http.js';
import { legacyHandler, mrnOf, patient, sendJson, settled } from './support/shadow-scene.js';
import { ADMIN_TOKEN, adminClient, startStoreGateway, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

const RESULTS = path.resolve(import.meta.dirname, '../../test-results');

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let context: BrowserContext;
let profile: string;
let operatorToken: string;
let viewerToken: string;

const rules = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
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
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

beforeAll(async () => {
  ensureTools({ chromium: 'chromium' });
  buildDashboard();
  db = await createTestDatabase(inject('databaseUrl'), 'dashboard');
  legacy = await startTestUpstream('legacy', legacyHandler());
  // the new service differs in one patient of four: parity 75 %, below the gate
  fresh = await startTestUpstream('new', (req, res) => {
    const mrn = mrnOf(req);
    sendJson(res, 200, Number(mrn) % 4 === 0 ? { ...patient(mrn), name: 'OTHER^NAME' } : patient(mrn));
  });
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url), env: { FICUS_PARITY_FLUSH_MS: '200' } });
  const admin = adminClient(gw.adminUrl);
  operatorToken = (await admin.post<{ token: string }>('/api/tokens', { name: 'ward-ops', role: 'operator', reason: 'dashboard test' })).body.token;
  viewerToken = (await admin.post<{ token: string }>('/api/tokens', { name: 'ward-viewer', role: 'viewer', reason: 'dashboard test' })).body.token;
  for (let mrn = 1; mrn <= 8; mrn++) await rawRequest(gw.url, 'GET', `/api/patients/${mrn}`);
  await rawRequest(gw.url, 'GET', '/api/encounters/1');
  await settled(gw.gateway, 'patients-read', 8);
  await gw.gateway.traffic?.flush();

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
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

async function logIn(page: Page, token: string): Promise<void> {
  await page.goto(`${gw.adminUrl}/admin`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ficus migration dashboard' }).waitFor();
}

/** Polls until the page shows it; generous, as the page refreshes every 2 s and the machine may be busy. */
const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 100 });

const row = (page: Page, rule: string) => page.locator(`tr[data-rule="${rule}"]`);

describe('the dashboard', () => {
  it('refuses a wrong token on the login page', async () => {
    const page = await context.newPage();
    await page.goto(`${gw.adminUrl}/admin`);
    await page.getByLabel('Admin token').fill('ficus_wrong-token');
    await page.keyboard.press('Enter');
    await eventually(() => page.getByRole('alert').textContent()).toContain('did not accept this token');
    await page.close();
  });

  it('shows the rules with traffic and parity; an operator flips one with confirmation, and the gateway follows', async () => {
    const page = await context.newPage();
    await logIn(page, operatorToken);
    await eventually(() => page.getByTestId('role').textContent()).toBe('operator');
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    const parityCell = () => row(page, 'patients-read').locator('td').nth(4).textContent();
    await eventually(parityCell).toContain('75.00 %');
    expect(await parityCell()).toContain('(6/8 in 1h)');
    expect(await parityCell()).toContain('gate closed');
    expect(await row(page, 'patients-read').locator('td').nth(2).textContent()).toContain('legacy: 100 %');
    // the kept mismatches, redacted, as a readable diff
    await row(page, 'patients-read').getByText('Mismatch samples').click();
    await eventually(() => row(page, 'patients-read').locator('pre').first().textContent()).toBe('~ /name: ‹string› → ‹string›');

    // a flip the parity gate refuses: the dialog says why, with the figures
    await row(page, 'patients-read').getByRole('button', { name: 'Flip patients-read' }).click();
    const dialog = page.getByRole('dialog', { name: 'Flip patients-read' });
    await dialog.getByLabel('New mode').selectOption('new');
    await dialog.getByLabel(/^Reason/).fill('go live');
    await dialog.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('parity 0.7500 over 8 compared requests');
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('Parity gate closed');
    // Escape closes it, and the focus returns to the button that opened it
    await page.keyboard.press('Escape');
    await eventually(() => page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe('Flip patients-read');

    // a flip done with the keyboard alone: open, choose, give a reason, confirm
    await row(page, 'encounters-read').getByRole('button', { name: 'Flip encounters-read' }).focus();
    await page.keyboard.press('Enter');
    const flip = page.getByRole('dialog', { name: 'Flip encounters-read' });
    await eventually(() => page.evaluate('document.activeElement?.id')).toBe('flip-mode');
    await flip.getByLabel('New mode').selectOption('new');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('TEXTAREA');
    await page.keyboard.type('pilot on ward 7');
    // past Cancel to the Flip button
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Flip');
    await page.keyboard.press('Enter');
    await eventually(() => page.getByRole('status').first().textContent()).toContain('encounters-read: legacy → new (patient-service)');
    await eventually(() => row(page, 'encounters-read').getByTestId('mode').textContent()).toBe('new');
    // who and why, in the recent changes
    await eventually(() => page.locator('#changes').textContent()).toContain('pilot on ward 7');
    expect(await page.locator('#changes').textContent()).toContain('token:ward-ops');

    // and a real request through the gateway goes to the new service
    let route = '';
    for (let i = 0; i < 500 && route !== 'encounters-read; patient-service'; i++) {
      route = (await rawRequest(gw.url, 'GET', '/api/encounters/1')).rawHeaders.find(([k]) => k === 'x-ficus-route')?.[1] ?? '';
      if (route !== 'encounters-read; patient-service') await new Promise((r) => setTimeout(r, 20));
    }
    expect(route).toBe('encounters-read; patient-service');

    // the same flip again says that nothing changed, and makes no version
    const version = async () => (await adminClient(gw.adminUrl).get<{ version: number }>('/api/rules')).body.version;
    const versionBefore = await version();
    await row(page, 'encounters-read').getByRole('button', { name: 'Flip encounters-read' }).click();
    const again = page.getByRole('dialog', { name: 'Flip encounters-read' });
    await again.getByLabel('New mode').selectOption('new');
    await again.getByRole('textbox', { name: /reason/i }).fill('clicked twice');
    await again.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain('No change: encounters-read is already new');
    expect(await version()).toBe(versionBefore);

    // a canary of writes goes through, with the rule check's warning shown
    await row(page, 'patients-write').getByRole('button', { name: 'Flip patients-write' }).click();
    const writes = page.getByRole('dialog', { name: 'Flip patients-write' });
    await writes.getByLabel('New mode').selectOption('canary');
    await writes.getByLabel('Percent of patients to the new service').fill('10');
    await writes.getByRole('textbox', { name: /reason/i }).fill('writes pilot');
    await writes.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => row(page, 'patients-write').getByTestId('mode').textContent()).toBe('canary 10 %');
    expect(await page.getByRole('alert').filter({ hasText: 'Warning:' }).textContent()).toMatch(/^Warning: POST, PUT requests go to "patient-service" for 10 % of keys/);

    // HL7 and CDC: nothing behind this admin API yet
    await eventually(() => page.getByTestId('hl7-down').textContent()).toContain('not running');
    await eventually(() => page.getByTestId('cdc-down').textContent()).toContain('not running');
    await eventually(() => page.getByTestId('queues-away').textContent()).toBe('Not reachable through the admin API: the HL7 adapter, the CDC reader.');
    await page.close();
  });

  it('holds a rollback that would move a rule past its closed parity gate, and offers only an admin to force it', async () => {
    const admin = adminClient(gw.adminUrl);
    const current = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;
    // an admin forced patients-read to new (version A), then put it back in shadow
    const forced = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'forced pilot', force: true, baseVersion: await current() });
    expect(forced.status).toBe(200);
    const back = await admin.post('/api/rules/patients-read/flip', { mode: 'shadow', reason: 'back to shadow', baseVersion: await current() });
    expect(back.status).toBe(200);
    const target = forced.body.version;

    const page = await context.newPage();
    await logIn(page, operatorToken);
    await page.getByRole('button', { name: `Roll back to version ${target}` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to version ${target}` });
    expect(await dialog.getByLabel(/Force past a closed parity gate/).count()).toBe(0);
    await dialog.getByRole('textbox', { name: /reason/i }).fill('back to the pilot');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('Parity gate closed');
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    await page.close();

    const asAdmin = await context.newPage();
    await logIn(asAdmin, ADMIN_TOKEN);
    await asAdmin.getByRole('button', { name: `Roll back to version ${target}` }).click();
    const forcing = asAdmin.getByRole('dialog', { name: `Roll back to version ${target}` });
    await forcing.getByLabel(/Force past a closed parity gate/).check();
    await forcing.getByRole('textbox', { name: /reason/i }).fill('accepted the gap');
    await forcing.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => row(asAdmin, 'patients-read').getByTestId('mode').textContent()).toBe('new');
    // and back to shadow for the tests that follow
    expect((await admin.post('/api/rules/patients-read/flip', { mode: 'shadow', reason: 'restore', baseVersion: await current() })).status).toBe(200);
    await asAdmin.close();
  });

  it('renders the HL7 and CDC contracts, and replays a dead letter with confirmation', async () => {
    const page = await context.newPage();
    const replays: unknown[] = [];
    const json = (body: unknown) => ({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    await page.route('**/api/hl7/stats?**', (r) =>
      r.fulfill(
        json({
          since: new Date(Date.now() - 3600_000).toISOString(),
          messages: [
            { type: 'ADT', trigger: 'A01', count: 42 },
            { type: 'ORU', trigger: 'R01', count: 17 },
          ],
          acks: [
            { code: 'AA', count: 58 },
            { code: 'AE', count: 1 },
          ],
          rejected: 2,
          deliveries: [{ target: 'legacy:legacy-hl7', pending: 0, dead: 1, delivered: 58 }],
        }),
      ),
    );
    await page.route('**/api/hl7/dead-letters?**', (r) =>
      r.fulfill(json({ deadLetters: [{ deliveryId: 9, messageId: 77, target: 'legacy:legacy-hl7', answer: 'AE: unknown ward', attempts: 1, at: new Date().toISOString(), controlId: 'MSG-77', sendingFacility: 'GENHOSP', type: 'ADT', trigger: 'A01' }] })),
    );
    await page.route('**/api/hl7/replay', async (r) => {
      replays.push(r.request().postDataJSON());
      await r.fulfill(json({ replayed: true }));
    });
    await page.route('**/api/cdc/status', (r) =>
      r.fulfill(json({ sources: [{ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lagBytes: 4096, lagMs: 350, lastPosition: '0/16B3748', lastCommitAt: new Date().toISOString(), changesPerSecond: 12.5 }] })),
    );
    const failedAt = new Date(Date.now() - 120_000).toISOString();
    await page.route('**/api/hl7/queues/dead-letters?**', (r) =>
      r.fulfill(
        json({
          counts: [{ prefix: 'hl7.results-service', count: 1 }],
          deadLetters: [{ queue: 'hl7.results-service.p3', id: 'dead-message-88', jobId: 'message-88', error: 'HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN', attempts: 1, failedAt, replaySafeUntil: null, summary: { messageId: 88, controlId: 'MSG-88', sendingFacility: 'CORELAB', type: 'ORU^R01', replay: false } }],
        }),
      ),
    );
    await page.route('**/api/cdc/queues/dead-letters?**', (r) =>
      r.fulfill(
        json({
          counts: [{ prefix: 'cdc.lab-results', count: 1 }],
          deadLetters: [{ queue: 'cdc.lab-results.p1', id: 'dead-1742', jobId: '1742', error: 'value too long for type character varying(20)', attempts: 8, failedAt: new Date(Date.now() - 40 * 86_400_000).toISOString(), replaySafeUntil: new Date(Date.now() - 11 * 86_400_000).toISOString(), summary: { events: 3, ops: { update: 3 }, tables: ['legacy-pg:lab_result'] } }],
        }),
      ),
    );
    const queueActions: { url: string; body: unknown }[] = [];
    await page.route('**/api/*/queues/dead-letters/*', async (r) => {
      queueActions.push({ url: new URL(r.request().url()).pathname, body: r.request().postDataJSON() });
      if (r.request().url().endsWith('/api/cdc/queues/dead-letters/replay')) {
        await r.fulfill({ status: 409, contentType: 'application/problem+json', body: JSON.stringify({ type: 'https://ficus.dev/problems/replay-unsafe', title: 'Replay could bring deleted rows back', status: 409, detail: 'this dead letter is older than the consumer\'s deduplication state' }) });
      } else {
        await r.fulfill(json({ letter: {}, replayedAs: 'x' }));
      }
    });
    await logIn(page, operatorToken);
    const hl7 = page.locator('#hl7');
    await eventually(() => hl7.textContent()).toContain('ADT^A01');
    expect(await hl7.textContent()).toContain('42');
    expect(await hl7.textContent()).toContain('AE: unknown ward');
    await eventually(() => page.locator('#cdc').textContent()).toContain('streaming');
    expect(await page.locator('#cdc').textContent()).toContain('0.3 s · 4,096 bytes');

    await hl7.getByRole('button', { name: 'Replay message MSG-77' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replay message MSG-77' });
    await dialog.getByLabel(/^Reason/).fill('ward code fixed in legacy');
    await dialog.getByRole('button', { name: 'Replay' }).click();
    await eventually(() => replays).toEqual([{ messageId: 77, reason: 'ward code fixed in legacy' }]);

    // the services' dead letters: both components' answers, newest first, identifiers only
    const queues = page.locator('#queues');
    await eventually(() => queues.locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/^2 min ago\s*hl7\.results-service\.p3messageId 88 · controlId MSG-88 · sendingFacility CORELAB · type ORU\^R01HL7 204 at PID\^1\^3\^1\^1: PID-3: no patient with this MRN1/),
      expect.stringMatching(/^40 days ago\s*cdc\.lab-results\.p1events 3 · ops update 3 · tables legacy-pg:lab_resultvalue too long for type character varying\(20\) \(past its safe replay time: a replay could bring deleted rows back\)8/),
    ]);
    await queues.getByRole('button', { name: 'Replay dead-message-88 of hl7.results-service.p3' }).click();
    const replayDialog = page.getByRole('dialog', { name: 'Replay dead-message-88' });
    await replayDialog.getByLabel(/^Reason/).fill('patient registered since');
    await replayDialog.getByRole('button', { name: 'Replay' }).click();
    await eventually(() => queueActions).toEqual([{ url: '/api/hl7/queues/dead-letters/replay', body: { queue: 'hl7.results-service.p3', id: 'dead-message-88', reason: 'patient registered since' } }]);
    // a change batch past its safe time: the refusal is shown in the dialog, then it is discarded instead
    await queues.getByRole('button', { name: 'Replay dead-1742 of cdc.lab-results.p1' }).click();
    const unsafe = page.getByRole('dialog', { name: 'Replay dead-1742' });
    await unsafe.getByLabel(/^Reason/).fill('try it');
    await unsafe.getByRole('button', { name: 'Replay' }).click();
    await eventually(() => unsafe.getByRole('alert').textContent()).toContain('Replay could bring deleted rows back');
    await unsafe.getByRole('button', { name: 'Cancel' }).click();
    await queues.getByRole('button', { name: 'Discard dead-1742 of cdc.lab-results.p1' }).click();
    const discard = page.getByRole('dialog', { name: 'Discard dead-1742' });
    await discard.getByLabel(/^Reason/).fill('corrected by hand');
    await discard.getByRole('button', { name: 'Discard' }).click();
    await eventually(() => queueActions.map((a) => a.url)).toEqual(['/api/hl7/queues/dead-letters/replay', '/api/cdc/queues/dead-letters/replay', '/api/cdc/queues/dead-letters/discard']);
    expect(queueActions[2]!.body).toEqual({ queue: 'cdc.lab-results.p1', id: 'dead-1742', reason: 'corrected by hand' });

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  it('shows a viewer no flip, rollback or replay button', async () => {
    const page = await context.newPage();
    await page.route('**/api/hl7/dead-letters?**', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ deadLetters: [{ deliveryId: 9, messageId: 77, target: 'legacy:legacy-hl7', answer: 'AE', attempts: 1, at: new Date().toISOString(), controlId: 'MSG-77', sendingFacility: 'GENHOSP', type: 'ADT', trigger: 'A01' }] }) }),
    );
    await page.route('**/api/hl7/stats?**', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ since: new Date().toISOString(), messages: [], acks: [], rejected: 0, deliveries: [] }) }));
    await page.route('**/api/hl7/queues/dead-letters?**', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ counts: [{ prefix: 'hl7.results-service', count: 1 }], deadLetters: [{ queue: 'hl7.results-service.p3', id: 'dead-message-88', jobId: 'message-88', error: 'HL7 204', attempts: 1, failedAt: new Date().toISOString(), replaySafeUntil: null, summary: { controlId: 'MSG-88' } }] }) }),
    );
    await logIn(page, viewerToken);
    await eventually(() => page.getByTestId('role').textContent()).toBe('viewer');
    await eventually(() => page.locator('#queues').textContent()).toContain('MSG-88');
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    await eventually(() => page.locator('#hl7').textContent()).toContain('MSG-77');
    await eventually(() => page.locator('#changes table').first().textContent()).toContain('pilot on ward 7');
    expect(await page.getByRole('button', { name: /^Flip/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Replay/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Discard/ }).count()).toBe(0);
    await page.screenshot({ path: path.join(RESULTS, 'dashboard-viewer.png'), fullPage: true });
    await page.close();
  });
});
