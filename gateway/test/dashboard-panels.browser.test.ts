/**
 * The dashboard's panels in a real headless Chromium against a real gateway (the scene of
 * support/dashboard-scene.ts): the HL7 and CDC panels say "not running" against this branch's
 * admin API (no forwarder to the adapter or the CDC reader here), then render their contract's
 * answers served by the browser's request interception, and a dead letter is replayed through the
 * confirmation dialog; an admin API that stops answering gets a banner over the figures it last
 * gave; the Upstreams panel shows the new service's circuit opening when it is stopped (real
 * failures through the gateway), with the warning for the rule in mode new, and closing when it
 * is back; an emergency override file is said above the rules, an HL7 rule it names as not held
 * by the gateway; the rollback dialog lists what a rollback changes from the current rules; the
 * CDC panel says when it keeps figures its reads (an error answer) no longer renew.
 * Screenshots go to test-results/.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawRequest } from './support/raw-http.js';
import { admin, eventually, latest, logIn, RESULTS, row, ruleNow, useDashboardScene } from './support/dashboard-scene.js';

const s = useDashboardScene('dashboard_panels');

describe("the dashboard's panels", () => {
  it('renders the HL7 and CDC contracts, and replays a dead letter with confirmation', async () => {
    const page = await s.context.newPage();
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
          deliveries: [
            { target: 'legacy:legacy-hl7', pending: 0, dead: 1, delivered: 58, gaveUp: null },
            { target: 'queue:results-service', pending: 0, dead: 0, delivered: 17, gaveUp: 1 },
          ],
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
    const redisAway = { waitingSince: new Date(Date.now() - 42_000).toISOString(), reason: 'Redis has not taken the change events (connection reconnecting)' };
    await page.route('**/api/cdc/status', (r) =>
      r.fulfill(json({ sources: [{ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lagBytes: 4096, lagMs: 350, lastPosition: '0/16B3748', lastCommitAt: new Date().toISOString(), changesPerSecond: 12.5 }], enqueue: redisAway })),
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
    await logIn(s, page, s.operatorToken);
    const hl7 = page.locator('#hl7');
    await eventually(() => hl7.textContent()).toContain('ADT^A01');
    expect(await hl7.textContent()).toContain('42');
    expect(await hl7.textContent()).toContain('AE: unknown ward');
    // a queue's delivered is the queue taking the message: what its service gave up on is said beside it, as the CLI's hl7 stats does
    const deliveries = hl7.getByRole('table', { name: /^Deliveries per target/ });
    expect(await deliveries.locator('tr', { hasText: 'queue:results-service' }).locator('td').allTextContents()).toEqual(['17', '0', '0', '1']);
    expect(await deliveries.locator('tr', { hasText: 'legacy:legacy-hl7' }).locator('td').allTextContents()).toEqual(['58', '0', '1', '–']);
    await eventually(() => page.locator('#cdc').textContent()).toContain('streaming');
    expect(await page.locator('#cdc').textContent()).toContain('0.3 s · 4,096 bytes');
    // streaming, but into memory: Redis takes nothing, which the state alone does not show
    expect(await page.getByTestId('cdc-enqueue').textContent()).toMatch(
      /^Change events wait for Redis since \S.* \(Redis has not taken the change events \(connection reconnecting\)\): no service gets a change meanwhile, and the CDC reader answers not ready\.$/,
    );

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


  it('says when the admin API stops answering that the figures may be stale, until it answers again, and keeps the session', async () => {
    const page = await s.context.newPage();
    await logIn(s, page, s.operatorToken);
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
    expect(await page.evaluate("sessionStorage.getItem('ficus-admin-token')")).toBe(s.operatorToken);
    await page.close();
  });

  it("shows this instance's upstreams, and warns when the new service's circuit opens under a rule in mode new, until it closes again", async () => {
    // encounters-read in mode new (an operator flipped it above; when this test runs alone, here)
    if ((await ruleNow(s, 'encounters-read')).mode !== 'new') {
      expect((await admin(s).post('/api/rules/encounters-read/flip', { mode: 'new', reason: 'upstreams panel', baseVersion: (await latest(s)).version })).status).toBe(200);
    }
    const routeOf = async () => (await rawRequest(s.gw.url, 'GET', '/api/encounters/1')).rawHeaders.find(([k]) => k === 'x-ficus-route')?.[1];
    await eventually(routeOf).toBe('encounters-read; patient-service');

    const page = await s.context.newPage();
    await logIn(s, page, s.viewerToken);
    const panel = page.locator('#upstreams');
    const svc = panel.locator('tr[data-upstream="patient-service"]');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^closed since \d\d:\d\d:\d\d/);
    expect(await panel.getByTestId('upstreams-instance').textContent()).toContain(`As seen by gateway instance ${hostname()} (pid ${process.pid})`);
    // this scene's upstreams have no active checks: the passive breaker alone
    expect(await svc.getByTestId('health').textContent()).toBe('unknown (health checks off)');
    expect(await svc.locator('td').last().textContent()).toContain('encounters-read (new)');
    expect(await panel.getByTestId('upstream-warnings').count()).toBe(0);

    // the new service goes down: five failed reads (each answered by legacy) open its circuit
    await s.fresh.stop();
    for (let i = 0; i < 5; i++) expect(await routeOf()).toBe('encounters-read; legacy (fallback)');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^open since \d\d:\d\d:\d\d5 consecutive failures, last: /);
    const warnings = panel.getByTestId('upstream-warnings');
    await eventually(() => warnings.textContent()).toContain('⚠ encounters-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503 (since ');
    expect(await warnings.locator('li').filter({ hasText: 'encounters-read:' }).getAttribute('class')).toBe('error');
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'dashboard-upstreams.png'), fullPage: true });

    // back: after the cool-down (5 s) a trial request closes the circuit, and the warning goes
    await s.fresh.restart();
    await expect.poll(routeOf, { timeout: 20_000, interval: 250 }).toBe('encounters-read; patient-service');
    await eventually(() => svc.getByTestId('circuit').textContent()).toMatch(/^closed since \d\d:\d\d:\d\drequest succeeded/);
    await eventually(() => warnings.count()).toBe(0);
    await page.close();
  });

  it("says what this gateway's emergency override file holds, and that an HL7 rule it names is not held by it", async () => {
    const file = path.join(s.gw.stateDir, 'emergency-legacy.yaml');
    const page = await s.context.newPage();
    try {
      await logIn(s, page, s.viewerToken);
      await row(page, 'adt-patient-events').waitFor();
      expect(await page.getByTestId('emergency-notice').count()).toBe(0);
      writeFileSync(file, 'rules: [patients-read, adt-patient-events, patients-raed]\nreason: patient-service answers 500\nby: j.doe\n');
      const notice = page.getByTestId('emergency-notice');
      await eventually(() => notice.textContent()).toContain('Emergency override on this gateway instance');
      const text = await notice.textContent();
      expect(text).toContain('by j.doe: patient-service answers 500');
      expect(text).toContain('Held in legacy whatever their mode: patients-read.');
      // no HL7 adapter behind this admin API: whether its file holds the rule is not known, and said so
      expect(await notice.getByTestId('emergency-hl7').textContent()).toBe(
        'adt-patient-events: HL7. The gateway routes no HL7 messages; the HL7 adapter holds this rule in legacy only if its own emergency file names it, and whether it does is not known (said below).',
      );
      expect(await notice.getByTestId('emergency-unknown').textContent()).toContain('patients-raed: no such rule');
      expect(await row(page, 'patients-read').getByTestId('emergency').textContent()).toBe('legacy (emergency)');
      expect(await row(page, 'adt-patient-events').getByTestId('emergency-hl7-rule').textContent()).toBe('not held by the gateway');
      await page.screenshot({ path: path.join(RESULTS, 'dashboard-emergency.png'), fullPage: true });
      // all: every HTTP rule of this gateway, and still no HL7 one
      writeFileSync(file, 'rules: all\nreason: patient-service answers 500\nby: j.doe\n');
      await eventually(() => notice.getByTestId('emergency-hl7').textContent()).toContain('HL7 rules: the gateway routes no HL7 messages (rules: all is all of its HTTP rules here); the HL7 adapter holds these rules in legacy only if');
      rmSync(file);
      await eventually(() => notice.count()).toBe(0);
    } finally {
      rmSync(file, { force: true });
      await page.close();
    }
  });

  it('says when the CDC panel keeps figures its reads can no longer renew (an error, not "not running"), until a read answers again', async () => {
    const page = await s.context.newPage();
    let failing = false;
    await page.route('**/api/cdc/status', (r) =>
      failing
        ? r.fulfill({ status: 500, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Internal Server Error', status: 500 }) })
        : r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ sources: [{ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lagBytes: 0, lagMs: 0, lastPosition: '0/16B3748', lastCommitAt: null, changesPerSecond: 0 }] }) }),
    );
    try {
      await logIn(s, page, s.viewerToken);
      const cdc = page.locator('#cdc');
      await eventually(() => cdc.textContent()).toContain('streaming');
      expect(await cdc.getByTestId('stale').count()).toBe(0);
      failing = true;
      await eventually(() => cdc.getByTestId('stale').textContent()).toMatch(/^The latest read failed \(HTTP 500\): the figures below are from \d\d:\d\d:\d\d\./);
      expect(await cdc.textContent()).toContain('streaming');
      failing = false;
      await eventually(() => cdc.getByTestId('stale').count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it("lists what holds the legacy writer back, as ficus cdc status does: the legacy database away, rows gone from the legacy, the emergency file", async () => {
    const page = await s.context.newPage();
    const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    const status = {
      sources: [{ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lagBytes: 0, lagMs: 0, lastPosition: '0/16B3748', lastCommitAt: null, changesPerSecond: 0 }],
      writeback: {
        enabled: true,
        services: [
          {
            name: 'patient-service',
            applied: 12,
            lastAppliedAt: at(60_000),
            waiting: null,
            goneRows: [{ partition: 2, topics: ['patients'], rows: 3, since: at(30_000), waitingFor: '0/16B4000', until: at(-270_000) }],
          },
          { name: 'results-service', applied: 0, lastAppliedAt: null, waiting: { since: at(20_000), lastError: 'connect ECONNREFUSED 127.0.0.1:5432', partitions: [0, 1], tries: 4 }, goneRows: [] },
        ],
        deadLetters: 0,
        emergency: { file: '/var/lib/ficus/emergency-legacy.yaml', rules: ['patients-write'], reason: 'patient-service loses writes', by: 'j.doe', since: at(120_000), services: [{ name: 'patient-service', rule: 'patients-write' }] },
      },
    };
    let answer: unknown = status;
    await page.route('**/api/cdc/status', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) }));
    try {
      await logIn(s, page, s.viewerToken);
      const holds = page.locator('#cdc').getByTestId('writeback-holds');
      // before: the sources alone; these were in /api/cdc/status and ficus cdc status only
      await eventually(() => holds.locator('li').count()).toBe(3);
      const [gone, database, emergency] = await holds.locator('li').allTextContents();
      expect(gone).toMatch(
        /^Write-back from patient-service held on partition 2 since \d\d:\d\d:\d\d: 3 update\(s\) of patients whose legacy row is gone \(its key changed there, or it was deleted\); waiting for CDC to pass 0\/16B4000; from \d\d:\d\d:\d\d on, those still waiting are dead-lettered as not known\.$/,
      );
      expect(database).toMatch(/^Write-back from results-service waits for the legacy database since \d\d:\d\d:\d\d \(partitions 0, 1, 4 tries; last: connect ECONNREFUSED 127\.0\.0\.1:5432\): its changes reach the legacy once it answers\.$/);
      expect(emergency).toMatch(
        /^Emergency override file \/var\/lib\/ficus\/emergency-legacy\.yaml \(rules: patients-write\) in force on the CDC since \d\d:\d\d:\d\d by j\.doe: patient-service loses writes; the legacy holds the record of patient-service \(patients-write\): a legacy edit of a field the service changed too stays\.$/,
      );
      // nothing held: no list; write-back off: none either
      answer = { ...status, writeback: { enabled: true, services: [{ name: 'patient-service', applied: 12, lastAppliedAt: null, waiting: null, goneRows: [] }], deadLetters: 0, emergency: null } };
      await eventually(() => holds.count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('says in the rollback dialog what the rollback changes now, not only what the target version once changed', async () => {
    const flip = async (rule: string, mode: string) => {
      const r = await admin(s).post<{ version: number }>(`/api/rules/${rule}/flip`, { mode, reason: 'rollback dialog', baseVersion: (await latest(s)).version });
      expect(r.status).toBe(200);
      return r.body.version;
    };
    // the target's own change is patients-search to new; rolling back to it also takes the later HL7 flip back
    const target = await flip('patients-search', 'new');
    const current = await flip('adt-patient-events', 'new');
    const page = await s.context.newPage();
    try {
      await logIn(s, page, s.operatorToken);
      await page.getByRole('button', { name: `Roll back to version ${target}` }).click();
      const dialog = page.getByRole('dialog', { name: `Roll back to version ${target}` });
      const changes = dialog.getByTestId('rollback-changes');
      await eventually(() => changes.textContent()).toContain(`What it changes from version ${current}:`);
      expect(await changes.locator('li').allTextContents()).toEqual(['adt-patient-events (HL7): mode new → legacy']);
      expect(await dialog.textContent()).toContain(`Version ${target} itself was: patients-search: legacy → new`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    } finally {
      await page.close();
      await flip('adt-patient-events', 'legacy');
      await flip('patients-search', 'legacy');
    }
  });
});
