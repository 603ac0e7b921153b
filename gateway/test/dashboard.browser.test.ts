/**
 * The dashboard in a real headless Chromium (Debian's package) against a real gateway, its
 * admin API and rule store: log in with a token, see the rules with their parity and traffic,
 * flip one through the confirmation dialog (keyboard only), see the change in the page and in a
 * real request through the gateway; a gated flip is refused with its figures; a viewer sees no
 * flip, rollback or replay button. A flip or rollback keeps the version its dialog was opened on,
 * so another operator's change in between gets a 409 shown in the dialog instead of being
 * replaced; the canary percent is checked in the dialog. The panels (HL7, CDC, the admin API's
 * banner, upstreams): dashboard-panels.browser.test.ts. Screenshots go to test-results/.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { rawRequest } from './support/raw-http.js';
import { admin, eventually, latest, logIn, RESULTS, row, ruleNow, useDashboardScene } from './support/dashboard-scene.js';
import { ADMIN_TOKEN, adminClient } from './support/store-gateway.js';

const s = useDashboardScene('dashboard');

describe('the dashboard', () => {
  it('refuses a wrong token on the login page', async () => {
    const page = await s.context.newPage();
    await page.goto(`${s.gw.adminUrl}/admin`);
    await page.getByLabel('Admin token').fill('ficus_wrong-token');
    await page.keyboard.press('Enter');
    await eventually(() => page.getByRole('alert').textContent()).toContain('did not accept this token');
    await page.close();
  });

  it('says why the page went back to the login when the token is revoked while it is open', async () => {
    const api = adminClient(s.gw.adminUrl, ADMIN_TOKEN);
    const made = (await api.post<{ token: string; id: number }>('/api/tokens', { name: 'night-viewer', role: 'viewer', reason: 'dashboard test' })).body;
    const page = await s.context.newPage();
    await logIn(s, page, made.token);
    await eventually(() => page.getByTestId('role').textContent()).toBe('viewer');
    expect((await api.del(`/api/tokens/${made.id}`)).status).toBe(200);
    // before 2026-12-07 the page fell back to the login without a word
    await eventually(() => page.getByTestId('signed-out').textContent()).toContain('the token was revoked');
    await expect.poll(() => page.getByLabel('Admin token').isVisible()).toBe(true);
    // signing in again clears it
    await logIn(s, page, s.operatorToken);
    await eventually(() => page.getByTestId('role').textContent()).toBe('operator');
    expect(await page.getByTestId('signed-out').count()).toBe(0);
    await page.close();
  });

  it('shows the rules with traffic and parity; an operator flips one with confirmation, and the gateway follows', async () => {
    const page = await s.context.newPage();
    await logIn(s, page, s.operatorToken);
    await eventually(() => page.getByTestId('role').textContent()).toBe('operator');
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    const parityCell = () => row(page, 'patients-read').locator('td').nth(4).textContent();
    await eventually(parityCell).toContain('75.00 %');
    expect(await parityCell()).toContain('(6/8 in 1h)');
    // eight patients, one request each: the same by key, beside the requests
    expect(await parityCell()).toContain('by key: 75.00 % (6/8 keys)');
    expect(await parityCell()).toContain('needs 99.00 % over 5 requests and 5 keys');
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
      route = (await rawRequest(s.gw.url, 'GET', '/api/encounters/1')).rawHeaders.find(([k]) => k === 'x-ficus-route')?.[1] ?? '';
      if (route !== 'encounters-read; patient-service') await new Promise((r) => setTimeout(r, 20));
    }
    expect(route).toBe('encounters-read; patient-service');

    // the same flip again says that nothing changed, and makes no version
    const version = async () => (await adminClient(s.gw.adminUrl).get<{ version: number }>('/api/rules')).body.version;
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
    const admin = adminClient(s.gw.adminUrl);
    const current = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;
    // an admin forced patients-read to new (version A), then put it back in shadow
    const forced = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'forced pilot', force: true, baseVersion: await current() });
    expect(forced.status).toBe(200);
    const back = await admin.post('/api/rules/patients-read/flip', { mode: 'shadow', reason: 'back to shadow', baseVersion: await current() });
    expect(back.status).toBe(200);
    const target = forced.body.version;

    const page = await s.context.newPage();
    await logIn(s, page, s.operatorToken);
    await page.getByRole('button', { name: `Roll back to version ${target}` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to version ${target}` });
    expect(await dialog.getByLabel(/Force past a closed parity gate/).count()).toBe(0);
    await dialog.getByRole('textbox', { name: /reason/i }).fill('back to the pilot');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('Parity gate closed');
    await eventually(() => row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');
    await page.close();

    const asAdmin = await s.context.newPage();
    await logIn(s, asAdmin, ADMIN_TOKEN);
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

  it('shows a viewer no flip, rollback or replay button', async () => {
    const page = await s.context.newPage();
    await page.route('**/api/hl7/dead-letters?**', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ deadLetters: [{ deliveryId: 9, messageId: 77, target: 'legacy:legacy-hl7', answer: 'AE', attempts: 1, at: new Date().toISOString(), controlId: 'MSG-77', sendingFacility: 'GENHOSP', type: 'ADT', trigger: 'A01' }] }) }),
    );
    await page.route('**/api/hl7/stats?**', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ since: new Date().toISOString(), messages: [], acks: [], rejected: 0, deliveries: [] }) }));
    await page.route('**/api/hl7/queues/dead-letters?**', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ counts: [{ prefix: 'hl7.results-service', count: 1 }], deadLetters: [{ queue: 'hl7.results-service.p3', id: 'dead-message-88', jobId: 'message-88', error: 'HL7 204', attempts: 1, failedAt: new Date().toISOString(), replaySafeUntil: null, summary: { controlId: 'MSG-88' } }] }) }),
    );
    await logIn(s, page, s.viewerToken);
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


  it("keeps the version a flip dialog was opened on: another operator's flip in between is refused, shown, and the dialog reopens on it", async () => {
    const page = await s.context.newPage();
    const flips = await sent(page, '**/api/rules/*/flip');
    await logIn(s, page, s.operatorToken);
    await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('legacy');
    const opened = (await latest(s)).version;
    await row(page, 'patients-search').getByRole('button', { name: 'Flip patients-search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Flip patients-search' });
    expect(await dialog.textContent()).toContain('legacy');

    // meanwhile, from the CLI: canary 5 %; the page's poll sees the new version under the open dialog
    const other = await admin(s).post('/api/rules/patients-search/flip', { mode: 'canary', percent: 5, reason: 'pilot at 5 %', baseVersion: opened });
    expect(other.status).toBe(200);
    const theirs = await latest(s);
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
    expect(await ruleNow(s, 'patients-search')).toMatchObject({ mode: 'canary', percent: 5 });
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
    const page = await s.context.newPage();
    const rollbacks = await sent(page, '**/api/rollback');
    await logIn(s, page, s.operatorToken);
    const current = (await latest(s)).version;
    // back to before the flips of the test above: patients-search in legacy, nothing gated
    const to = current - 2;
    await page.getByRole('button', { name: `Roll back to version ${to}` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to version ${to}` });

    const other = await admin(s).post('/api/rules/patients-search/flip', { mode: 'canary', percent: 7, reason: 'one more ward', baseVersion: current });
    expect(other.status).toBe(200);
    await eventually(() => page.locator('#changes tbody th').first().textContent()).toBe(String(current + 1));

    await dialog.getByRole('textbox', { name: /reason/i }).fill('search answers differ');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => rollbacks.length).toBe(1);
    expect(rollbacks[0]).toEqual({ version: to, reason: 'search answers differ', baseVersion: current });
    const alert = dialog.getByRole('alert');
    await eventually(() => alert.textContent()).toContain('Someone changed the rules first; nothing was changed.');
    expect(await ruleNow(s, 'patients-search')).toMatchObject({ mode: 'canary', percent: 7 });
    expect(await alert.textContent()).toContain(`opened on version ${current}; the rules are now at version ${current + 1} (version ${current + 1}: patients-search: canary 30 % to patient-service → canary 7 % to patient-service`);

    await alert.getByRole('button', { name: `Reopen on version ${current + 1}` }).click();
    await eventually(() => dialog.textContent()).toContain(`on top of version ${current + 1}`);
    expect(await dialog.getByRole('textbox', { name: /reason/i }).inputValue()).toBe('search answers differ');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain(`Version ${current + 2}: rolled back to version ${to}`);
    expect(rollbacks[1]).toEqual({ version: to, reason: 'search answers differ', baseVersion: current + 1 });
    expect((await ruleNow(s, 'patients-search')).mode).toBe('legacy');
    await page.close();
  });

  it('checks the canary percent in the flip dialog and sends only a percent the operator typed', async () => {
    const page = await s.context.newPage();
    const flips = await sent(page, '**/api/rules/*/flip');
    await logIn(s, page, s.operatorToken);
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
    expect((await ruleNow(s, 'patients-search')).mode).toBe('legacy');
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
    expect((await ruleNow(s, 'patients-search')).mode).toBe('legacy');

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

  it('pages in older versions back to version 1, the all-legacy baseline, and rolls back to it', async () => {
    const admin = adminClient(s.gw.adminUrl);
    const current = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;
    // a dozen changes more, encounters-read left in shadow: version 1 is far past the ten newest
    for (let i = 0; i < 13; i++) {
      const r = await admin.post('/api/rules/encounters-read/flip', { mode: i % 2 === 0 ? 'shadow' : 'legacy', reason: `change ${i}`, baseVersion: await current() });
      expect(r.status).toBe(200);
    }
    const page = await s.context.newPage();
    await logIn(s, page, s.operatorToken);
    const toBaseline = page.getByRole('button', { name: 'Roll back to version 1', exact: true });
    await eventually(() => page.getByRole('button', { name: /^Older versions/ }).count()).toBe(1);
    expect(await toBaseline.count()).toBe(0);
    for (let i = 0; i < 10 && (await toBaseline.count()) === 0; i++) {
      await page.getByRole('button', { name: /^Older versions/ }).click();
      await new Promise((r) => setTimeout(r, 200));
    }
    // every version once, none skipped, and no more paging past version 1
    const listed = await page.locator('#changes table').first().locator('tbody th[scope=row]').allTextContents();
    const newest = await current();
    expect(listed.map(Number)).toEqual(Array.from({ length: newest }, (_, i) => newest - i));
    expect(await page.getByRole('button', { name: /^Older versions/ }).count()).toBe(0);
    await toBaseline.click();
    const dialog = page.getByRole('dialog', { name: 'Roll back to version 1' });
    await dialog.getByRole('textbox', { name: /reason/i }).fill('back to the baseline');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(() => row(page, 'encounters-read').getByTestId('mode').textContent()).toBe('legacy');
    await eventually(() => page.getByRole('status').first().textContent()).toContain('rolled back to version 1');
    await page.close();
  });
});
