/**
 * The dashboard in a real headless Chromium (Debian's package) against a real gateway, its
 * admin API and rule store: log in with a token, see the rules with their parity and traffic,
 * flip one through the confirmation dialog (keyboard only), see the change in the page and in a
 * real request through the gateway; a gated flip is refused with its figures; a viewer sees no
 * flip, rollback or replay button. The HL7 and CDC panels say "not running" against this
 * branch's admin API (no forwarder to the adapter or the CDC reader here), then render their
 * contract's answers served by the browser's request interception. A flip or rollback keeps the
 * version its dialog was opened on, so another operator's change in between gets a 409 shown in
 * the dialog instead of being replaced; the canary percent is checked in the dialog; an admin API
 * that stops answering gets a banner over the figures it last gave. The Upstreams panel shows the
 * new service's circuit opening when it is stopped (real failures through the gateway), with the
 * warning for the rule in mode new, and closing when it is back. Screenshots go to test-results/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
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
    // the JSON field is for API callers; an operator has no force checkbox either
    expect(await dialog.getByRole('alert').textContent()).toContain('Only an admin can force a change past a closed gate.');
    expect(await dialog.getByRole('alert').textContent()).not.toContain('"force"');
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
    await forcing.getByRole('textbox', { name: /reason/i }).fill('accepted the gap');
    // refused first: the way past the gate is the checkbox in this dialog, not a JSON field
    await forcing.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => forcing.getByRole('alert').textContent()).toContain('To go past it, tick "Force past a closed parity gate" above and confirm again');
    expect(await forcing.getByRole('alert').textContent()).not.toContain('"force"');
    await forcing.getByLabel(/Force past a closed parity gate/).check();
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

  // after the viewer's test: these make versions, and it looks for an older one among the latest ten

  /** the JSON bodies the page sends to a route, passed on to the admin API */
  async function sent(page: Page, glob: string): Promise<Record<string, unknown>[]> {
    const bodies: Record<string, unknown>[] = [];
    await page.route(glob, async (r) => {
      if (r.request().method() === 'POST') bodies.push(r.request().postDataJSON() as Record<string, unknown>);
      await r.continue();
    });
    return bodies;
  }

  const admin = () => adminClient(gw.adminUrl);
  const latest = async () => (await admin().get<{ versions: { version: number; author: string }[] }>('/api/versions?limit=1')).body.versions[0]!;
  const ruleNow = async (id: string) => (await admin().get<{ rule: { mode: string; percent?: number } }>(`/api/rules/${id}`)).body.rule;

  it("keeps the version a flip dialog was opened on: another operator's flip in between is refused, shown, and the dialog reopens on it", async () => {
    const page = await context.newPage();
    const flips = await sent(page, '**/api/rules/*/flip');
    await logIn(page, operatorToken);
    await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('legacy');
    const opened = (await latest()).version;
    await row(page, 'patients-search').getByRole('button', { name: 'Flip patients-search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Flip patients-search' });
    expect(await dialog.textContent()).toContain('legacy');

    // meanwhile, from the CLI: canary 5 %; the page's poll sees the new version under the open dialog
    const other = await admin().post('/api/rules/patients-search/flip', { mode: 'canary', percent: 5, reason: 'pilot at 5 %', baseVersion: opened });
    expect(other.status).toBe(200);
    const theirs = await latest();
    expect(theirs.version).toBe(opened + 1);
    await eventually(() => page.locator('#rules-title').textContent()).toContain(`(version ${opened + 1})`);

    await dialog.getByLabel('New mode').selectOption('canary');
    await dialog.getByLabel('Percent of patients to the new service').fill('30');
    await dialog.getByRole('textbox', { name: /reason/i }).fill('widen the pilot');
    await dialog.getByRole('button', { name: 'Flip' }).click();
    // sent on the version the dialog showed, so the other operator's 5 % stands
    await eventually(() => flips.length).toBe(1);
    expect(flips[0]).toEqual({ mode: 'canary', percent: 30, reason: 'widen the pilot', baseVersion: opened });
    const alert = dialog.getByRole('alert');
    await eventually(() => alert.textContent()).toContain('Someone changed the rules first; nothing was changed.');
    expect(await ruleNow('patients-search')).toMatchObject({ mode: 'canary', percent: 5 });
    const said = (await alert.textContent())!;
    expect(said).toContain(`This dialog was opened on version ${opened}; the rules are now at version ${opened + 1}`);
    expect(said).toContain(`(version ${opened + 1}: patients-search: legacy → canary 5 % to patient-service, by ${theirs.author} at `);
    expect(said).toMatch(/ at \d\d:\d\d:\d\d, “pilot at 5 %”\)/);

    // reopened on the rules as they are now: the other operator's 5 %, the reason kept
    await alert.getByRole('button', { name: `Reopen on version ${opened + 1}` }).click();
    await eventually(() => dialog.textContent()).toContain(`Now (version ${opened + 1}): canary 5 %`);
    expect(await dialog.getByLabel('New mode').inputValue()).toBe('canary');
    expect(await dialog.getByLabel('Percent of patients to the new service').inputValue()).toBe('5');
    expect(await dialog.getByRole('textbox', { name: /reason/i }).inputValue()).toBe('widen the pilot');
    expect(await dialog.getByRole('alert').count()).toBe(0);
    await dialog.getByLabel('Percent of patients to the new service').fill('30');
    await dialog.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain(`Version ${opened + 2}: patients-search: canary 5 % to patient-service → canary 30 % to patient-service`);
    expect(flips[1]).toEqual({ mode: 'canary', percent: 30, reason: 'widen the pilot', baseVersion: opened + 1 });
    await page.close();
  });

  it("keeps the version a rollback dialog was opened on: a change in between is refused and shown, and the dialog reopens on it", async () => {
    const page = await context.newPage();
    const rollbacks = await sent(page, '**/api/rollback');
    await logIn(page, operatorToken);
    const current = (await latest()).version;
    // back to before the flips of the test above: patients-search in legacy, nothing gated
    const to = current - 2;
    await page.getByRole('button', { name: `Roll back to version ${to}` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to version ${to}` });

    const other = await admin().post('/api/rules/patients-search/flip', { mode: 'canary', percent: 7, reason: 'one more ward', baseVersion: current });
    expect(other.status).toBe(200);
    await eventually(() => page.locator('#changes tbody th').first().textContent()).toBe(String(current + 1));

    await dialog.getByRole('textbox', { name: /reason/i }).fill('search answers differ');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => rollbacks.length).toBe(1);
    expect(rollbacks[0]).toEqual({ version: to, reason: 'search answers differ', baseVersion: current });
    const alert = dialog.getByRole('alert');
    await eventually(() => alert.textContent()).toContain('Someone changed the rules first; nothing was changed.');
    expect(await ruleNow('patients-search')).toMatchObject({ mode: 'canary', percent: 7 });
    expect(await alert.textContent()).toContain(`opened on version ${current}; the rules are now at version ${current + 1} (version ${current + 1}: patients-search: canary 30 % to patient-service → canary 7 % to patient-service`);

    await alert.getByRole('button', { name: `Reopen on version ${current + 1}` }).click();
    await eventually(() => dialog.textContent()).toContain(`on top of version ${current + 1}`);
    expect(await dialog.getByRole('textbox', { name: /reason/i }).inputValue()).toBe('search answers differ');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain(`Version ${current + 2}: rolled back to version ${to}`);
    expect(rollbacks[1]).toEqual({ version: to, reason: 'search answers differ', baseVersion: current + 1 });
    expect((await ruleNow('patients-search')).mode).toBe('legacy');
    await page.close();
  });

  it('checks the canary percent in the flip dialog and sends only a percent the operator typed', async () => {
    const page = await context.newPage();
    const flips = await sent(page, '**/api/rules/*/flip');
    await logIn(page, operatorToken);
    await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('legacy');
    await row(page, 'patients-search').getByRole('button', { name: 'Flip patients-search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Flip patients-search' });
    await dialog.getByLabel('New mode').selectOption('canary');
    const field = dialog.getByLabel('Percent of patients to the new service');
    await dialog.getByRole('textbox', { name: /reason/i }).fill('search pilot');
    // an emptied field is no percent, not 0 % (which would end the comparison unasked)
    await field.fill('');
    await dialog.getByRole('button', { name: 'Flip' }).click();
    await new Promise((r) => setTimeout(r, 500));
    expect(flips).toEqual([]);
    expect((await ruleNow('patients-search')).mode).toBe('legacy');
    // and a rule that is not in canary has no percent of its own to offer: none is filled in for it
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await row(page, 'patients-search').getByRole('button', { name: 'Flip patients-search' }).click();
    await dialog.getByLabel('New mode').selectOption('canary');
    expect(await field.inputValue()).toBe('');
    await dialog.getByRole('textbox', { name: /reason/i }).fill('search pilot');

    const refused = async (typed: string, why: string) => {
      await field.fill(typed);
      await dialog.getByRole('button', { name: 'Flip' }).click();
      await eventually(() => dialog.getByTestId('percent-error').textContent()).toContain(why);
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      expect(await field.getAttribute('aria-describedby')).toContain('flip-percent-error');
      expect(await page.evaluate('document.activeElement?.id')).toBe('flip-percent');
      expect(await dialog.isVisible()).toBe(true);
    };
    await refused('', 'Enter the percent of patients for the new service, from 0 to 100.');
    await refused('150', '150 is out of range: the percent goes from 0 to 100.');
    await refused('-1', '-1 is out of range');
    await refused('12.345', '12.345 has more than two decimals: the admin API takes the percent in steps of 0.01.');
    await refused('1e1', 'is not a number');
    // nothing reached the admin API, and the rule is as it was
    await new Promise((r) => setTimeout(r, 300));
    expect(flips).toEqual([]);
    expect((await ruleNow('patients-search')).mode).toBe('legacy');

    await field.fill('12.5');
    expect(await dialog.getByTestId('percent-error').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('canary 12.5 %');
    expect(flips).toEqual([expect.objectContaining({ mode: 'canary', percent: 12.5 })]);

    // a mode other than canary sends no percent, whatever is in the field
    await row(page, 'patients-search').getByRole('button', { name: 'Flip patients-search' }).click();
    expect(await field.inputValue()).toBe('12.5');
    await field.fill('');
    await dialog.getByLabel('New mode').selectOption('legacy');
    await dialog.getByRole('textbox', { name: /reason/i }).fill('search pilot over');
    await dialog.getByRole('button', { name: 'Flip' }).click();
    await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('legacy');
    expect(flips[1]).toEqual(expect.not.objectContaining({ percent: expect.anything() }));
    await page.close();
  });

  it('says when the admin API stops answering that the figures may be stale, until it answers again, and keeps the session', async () => {
    const page = await context.newPage();
    await logIn(page, operatorToken);
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    expect(await page.getByTestId('api-down').count()).toBe(0);

    const before = await page.evaluate('Date.now()');
    await page.route('**/api/**', (r) => r.abort('connectionrefused'));
    const banner = page.getByTestId('api-down');
    await eventually(() => banner.textContent()).toMatch(/^Admin API unreachable since \d\d:\d\d:\d\d — figures below may be stale\./);
    expect(await banner.getAttribute('role')).toBe('alert');
    // since the first failed poll, in the browser's local time
    const since = /since (\d\d:\d\d:\d\d)/.exec((await banner.textContent())!)![1]!;
    const clockTimes = (await page.evaluate(
      `Array.from({ length: 15 }, (_, i) => { const d = new Date(${String(before)} + i * 1000); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':'); })`,
    )) as string[];
    expect(clockTimes).toContain(since);
    // the figures it last read stay, under the banner
    expect(await row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');

    await page.unroute('**/api/**');
    await eventually(() => banner.count()).toBe(0);

    // an API that answers, but with errors, is no better for the figures
    await page.route('**/api/versions?**', (r) => r.fulfill({ status: 500, contentType: 'application/problem+json', body: JSON.stringify({ type: 'https://ficus.dev/problems/internal-error', title: 'Internal error', status: 500 }) }));
    await eventually(() => banner.textContent()).toMatch(/^Admin API failing \(HTTP 500\) since \d\d:\d\d:\d\d — figures below may be stale\./);
    await page.unroute('**/api/versions?**');
    await eventually(() => banner.count()).toBe(0);

    // still signed in: no login page, the same role, the token still in the tab
    expect(await page.getByTestId('role').textContent()).toBe('operator');
    expect(await page.getByLabel('Admin token').count()).toBe(0);
    expect(await page.evaluate("sessionStorage.getItem('ficus-admin-token')")).toBe(operatorToken);
    await page.close();
  });

  it("shows this instance's upstreams, and warns when the new service's circuit opens under a rule in mode new, until it closes again", async () => {
    // encounters-read in mode new (an operator flipped it above; when this test runs alone, here)
    if ((await ruleNow('encounters-read')).mode !== 'new') {
      expect((await admin().post('/api/rules/encounters-read/flip', { mode: 'new', reason: 'upstreams panel', baseVersion: (await latest()).version })).status).toBe(200);
    }
    const routeOf = async () => (await rawRequest(gw.url, 'GET', '/api/encounters/1')).rawHeaders.find(([k]) => k === 'x-ficus-route')?.[1];
    await eventually(routeOf).toBe('encounters-read; patient-service');

    const page = await context.newPage();
    await logIn(page, viewerToken);
    const panel = page.locator('#upstreams');
    const svc = panel.locator('tr[data-upstream="patient-service"]');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^closed since \d\d:\d\d:\d\d/);
    expect(await panel.getByTestId('upstreams-instance').textContent()).toContain(`As seen by gateway instance ${hostname()} (pid ${process.pid})`);
    // this scene's upstreams have no active checks: the passive breaker alone
    expect(await svc.getByTestId('health').textContent()).toBe('unknown (health checks off)');
    expect(await svc.locator('td').last().textContent()).toContain('encounters-read (new)');
    expect(await panel.getByTestId('upstream-warnings').count()).toBe(0);

    // the new service goes down: five failed reads (each answered by legacy) open its circuit
    await fresh.stop();
    for (let i = 0; i < 5; i++) expect(await routeOf()).toBe('encounters-read; legacy (fallback)');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^open since \d\d:\d\d:\d\d5 consecutive failures, last: /);
    const warnings = panel.getByTestId('upstream-warnings');
    await eventually(() => warnings.textContent()).toContain('⚠ encounters-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503 (since ');
    expect(await warnings.locator('li').filter({ hasText: 'encounters-read:' }).getAttribute('class')).toBe('error');
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'dashboard-upstreams.png'), fullPage: true });

    // back: after the cool-down (5 s) a trial request closes the circuit, and the warning goes
    await fresh.restart();
    await expect.poll(routeOf, { timeout: 20_000, interval: 250 }).toBe('encounters-read; patient-service');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^closed since \d\d:\d\d:\d\drequest succeeded/);
    await eventually(() => warnings.count()).toBe(0);
    await page.close();
  });
});
