/**
 * What an on-call admin must read off the dashboard in an incident, in a real headless Chromium
 * against a real gateway (support/dashboard-scene.ts): a rule the gateway's emergency override
 * file holds is said to serve legacy in the flip dialog before the flip, in the flip's outcome,
 * in the rules table and in the Upstreams panel (a real file, a real request through the
 * gateway); the HL7 adapter's own file, read through GET /api/hl7/emergency (served here by the
 * browser's request interception: no adapter behind this admin API), marks the HL7 rules it
 * holds, and its flip dialog says so; a component whose read timed out (504) is said to have
 * timed out, not to be "not running". Each failed on the code before 7 December 2026.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { rawRequest } from './support/raw-http.js';
import { admin, eventually, latest, logIn, RESULTS, row, ruleNow, useDashboardScene } from './support/dashboard-scene.js';

const s = useDashboardScene('dashboard_emergency');

const json = (body: unknown, status = 200) => ({ status, contentType: status === 200 ? 'application/json' : 'application/problem+json', body: JSON.stringify(body) });
const TIMED_OUT = {
  type: 'https://ficus.dev/problems/component-timeout',
  title: 'The HL7 adapter did not answer in time',
  status: 504,
  detail: 'the HL7 adapter at http://127.0.0.1:8091 (FICUS_HL7_API_URL) did not answer within 30 s',
};
const HH_MM_SS = /\d\d:\d\d:\d\d/;

async function flipTo(rule: string, mode: string) {
  if ((await ruleNow(s, rule)).mode === mode) return;
  expect((await admin(s).post(`/api/rules/${rule}/flip`, { mode, reason: 'emergency dashboard test', baseVersion: (await latest(s)).version })).status).toBe(200);
}

async function openFlip(page: Page, rule: string) {
  await row(page, rule).getByRole('button', { name: `Flip ${rule}` }).click();
  return page.getByRole('dialog', { name: `Flip ${rule}` });
}

describe('the dashboard in an emergency', () => {
  it("says before and after a flip, in the table and in the Upstreams panel, that the gateway's emergency file holds the rule in legacy", async () => {
    const file = path.join(s.gw.stateDir, 'emergency-legacy.yaml');
    const page = await s.context.newPage();
    try {
      await logIn(s, page, s.operatorToken);
      await eventually(() => row(page, 'patients-search').getByTestId('mode').textContent()).toBe('legacy');
      writeFileSync(file, 'rules: [patients-search]\nreason: patient-service answers 500\nby: j.doe\n');
      await eventually(() => page.getByTestId('emergency-notice').count()).toBe(1);

      // before: the dialog says the flip will be stored but not served, whose file, since when, by whom
      const dialog = await openFlip(page, 'patients-search');
      const before = (await dialog.getByTestId('flip-held').textContent())!;
      expect(before).toContain(`patients-search is held in legacy by the emergency override file ${file} on this gateway instance, since `);
      expect(before).toMatch(HH_MM_SS);
      expect(before).toContain('by j.doe (“patient-service answers 500”)');
      expect(before).toContain('the flip is stored as a new version and serves only from then');
      await dialog.getByLabel('New mode').selectOption('new');
      await dialog.getByLabel(/^Reason/).fill('patient-service fixed');
      await dialog.getByRole('button', { name: 'Flip' }).click();

      // after: the outcome is a warning, not a plain success
      const done = page.getByTestId('flip-done');
      await eventually(() => done.textContent()).toContain('patients-search: legacy → new');
      expect(await done.textContent()).toMatch(new RegExp(`Stored, but not served: the emergency override file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on this gateway instance, since \\d\\d:\\d\\d:\\d\\d by j\\.doe`));
      expect(await done.getAttribute('class')).toBe('warn');
      // the table: the store's mode, and that it serves legacy, said without hovering
      const mode = row(page, 'patients-search').getByTestId('mode');
      await eventually(() => mode.getByTestId('held').textContent()).toMatch(new RegExp(`^serves legacy: held by .*emergency-legacy\\.yaml on the gateway since \\d\\d:\\d\\d:\\d\\d by j\\.doe$`));
      expect(await mode.textContent()).toMatch(/^new legacy \(emergency\)/);
      // and so it is: a real request still goes to legacy
      const routed = (await rawRequest(s.gw.url, 'GET', '/api/patients')).rawHeaders.find(([k]) => k === 'x-ficus-route')?.[1];
      expect(routed).toBe('patients-search; legacy (emergency)');

      // the Upstreams panel: the target gets nothing because of the file, not because the rule is unused
      const upstreams = page.locator('#upstreams');
      await eventually(() => upstreams.getByTestId('upstreams-emergency').textContent()).toContain(`Emergency override file ${file} on this instance since `);
      expect(await upstreams.getByTestId('upstreams-emergency').textContent()).toContain('Held in legacy: patients-search. Their targets get none of their requests');
      const svc = upstreams.locator('tr[data-upstream="patient-service"]');
      expect(await svc.getByTestId('held').textContent()).toBe('patients-search (legacy: held by the emergency file) – sends nothing here while the emergency file holds it');
      await page.screenshot({ path: path.join(RESULTS, 'dashboard-emergency-held.png'), fullPage: true });

      rmSync(file);
      await eventually(() => mode.textContent()).toBe('new');
      await eventually(() => upstreams.getByTestId('upstreams-emergency').count()).toBe(0);
    } finally {
      rmSync(file, { force: true });
      await page.close();
      await flipTo('patients-search', 'legacy');
    }
  });

  it("marks the HL7 rules the HL7 adapter's own emergency file holds, and says so in their flip dialog", async () => {
    await flipTo('adt-patient-events', 'new');
    const page = await s.context.newPage();
    const since = new Date(Date.now() - 60_000).toISOString();
    let answer: { status: number; body: unknown } = {
      status: 200,
      body: {
        instance: { hostname: 'hl7-adapter-0', pid: 7 },
        file: '/var/lib/ficus/emergency-legacy.yaml',
        override: { rules: ['adt-patient-events', 'patients-read'], reason: 'patient-service refuses admissions', by: 'm.ng', since, pinned: ['adt-patient-events'], unknown: [], http: ['patients-read'] },
      },
    };
    await page.route('**/api/hl7/emergency', (r) => r.fulfill(json(answer.body, answer.status)));
    try {
      await logIn(s, page, s.operatorToken);
      const adt = row(page, 'adt-patient-events').getByTestId('mode');
      await eventually(() => adt.getByTestId('emergency-adapter').textContent()).toBe('legacy (emergency, HL7 adapter)');
      expect(await adt.getByTestId('held').textContent()).toMatch(/^serves legacy: held by \/var\/lib\/ficus\/emergency-legacy\.yaml on the HL7 adapter since \d\d:\d\d:\d\d by m\.ng$/);
      const notice = page.getByTestId('hl7-emergency-notice');
      expect(await notice.textContent()).toContain('Emergency override on the HL7 adapter (instance hl7-adapter-0) since');
      expect(await notice.textContent()).toContain('HL7 rules held in legacy whatever their mode (their messages go to the legacy inbound only): adt-patient-events.');
      expect(await notice.textContent()).toContain("patients-read: HTTP, not held by the adapter's file");
      // an HTTP rule the adapter's file names is not marked: the gateway's own file holds those
      expect(await row(page, 'patients-read').getByTestId('mode').textContent()).toBe('shadow');

      const dialog = await openFlip(page, 'adt-patient-events');
      expect(await dialog.getByTestId('flip-held').textContent()).toContain(
        'adt-patient-events is held in legacy by the emergency override file /var/lib/ficus/emergency-legacy.yaml on the HL7 adapter (instance hl7-adapter-0), since',
      );
      expect(await dialog.getByTestId('flip-held').textContent()).toContain('the HL7 adapter keeps sending its messages to the legacy inbound only until the file is removed');
      await dialog.getByRole('button', { name: 'Cancel' }).click();

      // the adapter's read times out: not known, said as such, and no rule marked from an old answer
      answer = { status: 504, body: TIMED_OUT };
      await eventually(() => page.getByTestId('hl7-emergency-unknown').textContent()).toContain('did not answer in time (HTTP 504');
      expect(await page.getByTestId('hl7-emergency-unknown').textContent()).not.toContain('is not running');
      expect(await adt.textContent()).toBe('new');
    } finally {
      await page.close();
      await flipTo('adt-patient-events', 'legacy');
    }
  });

  it("one emergency file for the gateway and the HL7 adapter (the demo's): the gateway's notice says the adapter holds the HL7 rule it names, as the rule's row does", async () => {
    await flipTo('adt-patient-events', 'new');
    const file = path.join(s.gw.stateDir, 'emergency-legacy.yaml');
    const page = await s.context.newPage();
    // the adapter reads the same file: it holds the HL7 rule the gateway cannot (served by interception: no adapter here)
    await page.route('**/api/hl7/emergency', (r) =>
      r.fulfill(
        json({
          instance: { hostname: 'hl7-adapter-0', pid: 7 },
          file,
          override: { rules: ['patients-search', 'adt-patient-events'], reason: 'patient-service refuses admissions', by: 'j.doe', since: new Date().toISOString(), pinned: ['adt-patient-events'], unknown: [], http: ['patients-search'] },
        }),
      ),
    );
    try {
      await logIn(s, page, s.viewerToken);
      writeFileSync(file, 'rules: [patients-search, adt-patient-events]\nreason: patient-service refuses admissions\nby: j.doe\n');
      const notice = page.getByTestId('emergency-notice');
      await eventually(() => notice.count()).toBe(1);
      // before: "adt-patient-events: HL7, not held by this file", and the row "not held by the gateway's file", beside "legacy (emergency, HL7 adapter)"
      expect(await notice.getByTestId('emergency-hl7').textContent()).toBe(
        `adt-patient-events: HL7. The gateway routes no HL7 messages; the HL7 adapter holds adt-patient-events in legacy by its own emergency file ${file} (said below).`,
      );
      const adt = row(page, 'adt-patient-events').getByTestId('mode');
      expect(await adt.getByTestId('emergency-adapter').textContent()).toBe('legacy (emergency, HL7 adapter)');
      expect(await adt.getByTestId('emergency-hl7-rule').count()).toBe(0);
      expect(await adt.getByTestId('held').textContent()).toContain(`serves legacy: held by ${file} on the HL7 adapter since `);
    } finally {
      rmSync(file, { force: true });
      await page.close();
      await flipTo('adt-patient-events', 'legacy');
    }
  });

  it('says that a component timed out (504), not that it is not running, in the HL7, CDC and dead-letter panels', async () => {
    const page = await s.context.newPage();
    let statsAnswered = false;
    await page.route('**/api/hl7/stats?**', (r) =>
      statsAnswered
        ? r.fulfill(json({ since: new Date().toISOString(), messages: [{ type: 'ADT', trigger: 'A01', count: 3 }], acks: [], rejected: 0, deliveries: [] }))
        : r.fulfill(json(TIMED_OUT, 504)),
    );
    await page.route('**/api/hl7/dead-letters?**', (r) => r.fulfill(json({ deadLetters: [] })));
    await page.route('**/api/cdc/status', (r) => r.fulfill(json({ ...TIMED_OUT, title: 'The CDC reader did not answer in time' }, 504)));
    await page.route('**/api/cdc/queues/dead-letters?**', (r) => r.fulfill(json({ ...TIMED_OUT, title: 'The CDC reader did not answer in time' }, 504)));
    try {
      await logIn(s, page, s.viewerToken);
      const hl7 = page.getByTestId('hl7-down');
      await eventually(() => hl7.textContent()).toContain('The HL7 adapter did not answer in time (HTTP 504: the HL7 adapter at http://127.0.0.1:8091 (FICUS_HL7_API_URL) did not answer within 30 s)');
      expect(await hl7.textContent()).toContain('It may well be running');
      expect(await hl7.textContent()).not.toContain('is not running');
      expect(await page.getByTestId('cdc-down').textContent()).toContain('The CDC reader did not answer in time');
      // the dead letters: the CDC reader timed out, the HL7 adapter (nothing behind this admin API) is away
      await eventually(() => page.getByTestId('queues-timeout').textContent()).toContain('Did not answer in time (HTTP 504), so their dead letters are not listed: the CDC reader.');
      expect(await page.getByTestId('queues-away').textContent()).toBe('Not reachable through the admin API: the HL7 adapter.');

      // figures read before a timeout stay, said to be from a read that timed out
      statsAnswered = true;
      await eventually(() => page.locator('#hl7').textContent()).toContain('ADT^A01');
      statsAnswered = false;
      await eventually(() => page.locator('#hl7').getByTestId('stale').textContent()).toMatch(/^The latest read timed out \(HTTP 504\): the figures below are from \d\d:\d\d:\d\d\. The component may well be running/);
      expect(await page.locator('#hl7').textContent()).toContain('ADT^A01');
    } finally {
      await page.close();
    }
  });
});
