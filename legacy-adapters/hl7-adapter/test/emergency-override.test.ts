/**
 * The emergency override file (break glass) on the HL7 adapter: ADT moved to patient-service
 * (`adt-patient-events` in mode new), and the gateway's file, written by hand as an engineer
 * would, sends the next admissions to the legacy inbound only, loudly (the stored message,
 * /readyz, ficus_hl7_emergency_override, the audit log); a malformed file changes nothing; a new
 * rule version meanwhile does not win; removal restores mode new. A message accepted before the
 * override keeps its way to the service, as after a flip. Over real MLLP sockets, a real legacy
 * inbound stand-in, Redis and the real queue consumer. The rule store down as well:
 * emergency-override-outage.test.ts.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '@ficus/contracts';
import type { Hl7EmergencyAnswer } from '@ficus/contracts/api';
import { api, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { adtMovedRules, overrideMetric, readyz, type Ready } from './support/emergency-scene.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';
import { TestInbound } from './support/test-inbound.js';

let a: AdapterUnderTest;
let service: ServiceStandIn;
let inbound: TestInbound;
let dir: string;
let file: string;

beforeAll(async () => {
  service = await ServiceStandIn.start('patient-service');
  inbound = new TestInbound();
  await inbound.start();
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-hl7-emergency-'));
  file = path.join(dir, 'emergency-legacy.yaml');
  a = await startAdapterUnderTest({ files: adtMovedRules(inbound.url, 'new'), env: { REDIS_URL: service.redis.url, HL7_QUEUE_PREFIX: 'bull', FICUS_EMERGENCY_FILE: file } });
});
afterAll(async () => {
  await a?.close();
  await service?.close();
  await inbound?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Listed {
  id: number;
  ruleId: string;
  mode: string;
  emergency: boolean;
  deliveries: { target: string; status: string }[];
}
const stored = async (controlId: string) => (await api<{ messages: Listed[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`)).body.messages[0];

async function admit(controlId: string, mrn: string): Promise<void> {
  const client = await MllpTestClient.open(a.adapter.port);
  try {
    expect((await client.send(syntheticMessage({ controlId, mrn, trigger: 'A01' }))).get('MSA-1')).toBe('AA');
  } finally {
    client.close();
  }
}

const ready = () => readyz(a.apiUrl);
const untilReady = (what: string, ok: (r: Ready) => boolean) => until(async () => ((r) => (ok(r.body) ? r : undefined))(await ready()), what, 5_000);
const atLegacy = (controlId: string) => inbound.received.some((r) => r.controlId === controlId);

/** a message of the ADT rule reaches the service only (mode new): taken by it, legacy never given it */
async function expectAtServiceOnly(controlId: string): Promise<void> {
  await until(() => (service.takenOf(controlId).length > 0 ? true : undefined), `${controlId} taken by patient-service`);
  expect((await stored(controlId))?.deliveries.map((d) => d.target)).toEqual(['queue:patient-service']);
  expect(atLegacy(controlId)).toBe(false);
}

/** a message of the ADT rule reaches legacy only, and its stored record says the override sent it there */
async function expectAtLegacyByOverride(controlId: string): Promise<void> {
  await until(() => (atLegacy(controlId) ? true : undefined), `${controlId} at the legacy inbound`);
  // legacy has it once it answers; the adapter marks the delivery done a moment later
  const m = await until(async () => ((x) => (x?.deliveries.every((d) => d.status === 'delivered') ? x : undefined))(await stored(controlId)), `${controlId} marked delivered`);
  expect(m).toMatchObject({ ruleId: 'adt-patient-events', mode: 'legacy', emergency: true, deliveries: [{ target: 'legacy:legacy-hl7', status: 'delivered' }] });
  expect(service.takenOf(controlId)).toEqual([]);
}

describe('the emergency override file on the HL7 adapter', () => {
  it('a malformed file is refused with file:line:column: reason, and admissions still go to patient-service', async () => {
    writeFileSync(file, 'rules: [adt-patient-events]\nreson: typo\n');
    const r = await untilReady('the file refused', (x) => x.emergency?.lastRefused !== undefined);
    expect(r.body.emergency?.lastRefused?.issues).toEqual([expect.stringMatching(/emergency-legacy\.yaml:2:1: unknown field "reson"/)]);
    expect(r.body.emergency?.override).toBeUndefined();
    await admit('EM-BAD-1', 'E1');
    await expectAtServiceOnly('EM-BAD-1');
    expect((await stored('EM-BAD-1'))?.emergency).toBe(false);
    unlinkSync(file);
    await untilReady('the refusal forgotten with the file', (x) => x.emergency === undefined);
  });

  it('the file naming adt-patient-events sends the next A01 to legacy only, and the stored message, /readyz and the metric say so; one queued before stays the service\'s', async () => {
    await admit('EM-1', 'E1');
    await expectAtServiceOnly('EM-1');
    // accepted before the override, and still on the service's queue (the service holds it) when the file comes
    service.decide = (id) => (id === 'EM-QUEUED' ? 'wait' : 'take');
    await admit('EM-QUEUED', 'E2');
    await until(async () => ((await stored('EM-QUEUED'))?.deliveries[0]?.status === 'delivered' ? true : undefined), 'EM-QUEUED on the queue');

    const written = Date.now();
    writeFileSync(file, 'rules: [adt-patient-events]\nreason: patient-service refuses admissions since 02:10\nby: j.doe (integration on call)\n');
    const r = await untilReady('the override in force', (x) => x.emergency?.override !== undefined);
    console.log(`[measured] HL7 emergency override in effect ${Date.now() - written} ms after the file was written`);
    await admit('EM-2', 'E3');
    await expectAtLegacyByOverride('EM-2');

    expect(r.code).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(r.body.emergency?.override).toMatchObject({
      rules: ['adt-patient-events'],
      pinned: ['adt-patient-events'],
      unknown: [],
      http: [],
      reason: 'patient-service refuses admissions since 02:10',
      by: 'j.doe (integration on call)',
    });
    expect(await overrideMetric(a.apiUrl, 'adt-patient-events')).toBe(1);
    expect(await overrideMetric(a.apiUrl, 'lab-results')).toBeUndefined();
    // under the prefix the admin API passes through, for the dashboard (/readyz is not behind it)
    const seen = await api<Hl7EmergencyAnswer>(a.apiUrl, 'GET', '/api/hl7/emergency');
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({
      instance: { hostname: hostname(), pid: process.pid },
      file,
      override: { rules: ['adt-patient-events'], reason: 'patient-service refuses admissions since 02:10', by: 'j.doe (integration on call)', since: r.body.emergency!.override!.since, pinned: ['adt-patient-events'], unknown: [], http: [] },
    });

    // as after a flip: what was accepted before keeps its deliveries; the service applies it once it can, legacy is not given it
    service.decide = () => 'take';
    await until(() => (service.takenOf('EM-QUEUED').length > 0 ? true : undefined), 'EM-QUEUED taken by the service');
    expect(atLegacy('EM-QUEUED')).toBe(false);
  });

  it('a malformed file while the override is in force changes nothing: the override stays', async () => {
    writeFileSync(file, 'rules: [adt-patient-events\n');
    const r = await untilReady('the broken file refused', (x) => x.emergency?.lastRefused?.issues.some((i) => i.includes('YAML')) === true);
    expect(r.body.emergency?.lastRefused?.issues[0]).toMatch(/emergency-legacy\.yaml:\d+:\d+: YAML: /);
    expect(r.body.emergency?.override?.pinned).toEqual(['adt-patient-events']);
    await admit('EM-3', 'E4');
    await expectAtLegacyByOverride('EM-3');
    writeFileSync(file, 'rules: [adt-patient-events]\nreason: patient-service refuses admissions since 02:10\nby: j.doe (integration on call)\n');
    await untilReady('the file valid again', (x) => x.emergency?.lastRefused === undefined);
  });

  it('a new rule version meanwhile (ADT to dual) does not win over the file', async () => {
    const loadedAt = (await ready()).body.rules.loadedAt;
    writeFileSync(path.join(a.rulesDir, '20-hl7.yaml'), adtMovedRules(inbound.url, 'dual')['20-hl7.yaml']!);
    await untilReady('the new rules applied', (x) => x.rules.loadedAt !== loadedAt);
    await admit('EM-4', 'E5');
    await expectAtLegacyByOverride('EM-4');
    const back = (await ready()).body.rules.loadedAt;
    writeFileSync(path.join(a.rulesDir, '20-hl7.yaml'), adtMovedRules(inbound.url, 'new')['20-hl7.yaml']!);
    await untilReady('mode new applied again', (x) => x.rules.loadedAt !== back);
  });

  it('removing the file sends admissions to patient-service again (mode new)', async () => {
    unlinkSync(file);
    await untilReady('the override removed', (x) => x.emergency === undefined);
    expect(await overrideMetric(a.apiUrl, 'adt-patient-events')).toBeUndefined();
    expect((await api<Hl7EmergencyAnswer>(a.apiUrl, 'GET', '/api/hl7/emergency')).body).toEqual({ instance: { hostname: hostname(), pid: process.pid }, file });
    await admit('EM-5', 'E6');
    await expectAtServiceOnly('EM-5');
    expect((await stored('EM-5'))?.emergency).toBe(false);
  });

  it('`rules: all` holds every HL7 rule; HTTP rule names are the gateway\'s, unknown names a warning', async () => {
    writeFileSync(file, 'rules: all\nreason: store and services down\nby: ops\n');
    const all = await untilReady('all HL7 rules held', (x) => x.emergency?.override !== undefined);
    expect(all.body.emergency?.override?.pinned.sort()).toEqual(['adt-patient-events', 'hl7-default', 'lab-results']);
    expect(await overrideMetric(a.apiUrl, 'lab-results')).toBe(1);

    writeFileSync(file, 'rules: [adt-patient-events, legacy-default, reports-read]\n');
    const named = await untilReady('the names sorted out', (x) => x.emergency?.override?.unknown.length === 1);
    expect(named.body.emergency?.override).toMatchObject({ pinned: ['adt-patient-events'], http: ['legacy-default'], unknown: ['reports-read'] });
    expect(named.body.emergency?.lastRefused).toBeUndefined();
    expect(await overrideMetric(a.apiUrl, 'lab-results')).toBeUndefined();
    unlinkSync(file);
    await untilReady('the override removed', (x) => x.emergency === undefined);
  });

  it('applying and removing it are in the audit log (rules.emergency), with who, why and which component', async () => {
    const pool = new pg.Pool({ connectionString: a.ruleDb.url, max: 1 });
    try {
      const audit = new AuditLog(pool);
      const entries = await until(async () => ((e) => (e.length >= 6 ? e : undefined))(await audit.query({ action: 'rules.emergency' })), 'six audit entries');
      const oldest = entries.at(-1)!;
      expect(oldest).toMatchObject({
        actor: 'emergency-file:j.doe (integration on call)',
        auth: 'file',
        target: 'adt-patient-events',
        reason: 'patient-service refuses admissions since 02:10',
        detail: expect.objectContaining({ event: 'applied', component: 'hl7-adapter', file }),
      });
      expect(entries.map((e) => (e.detail as { event: string }).event)).toEqual(['removed', 'applied', 'applied', 'removed', 'applied', 'applied']);
    } finally {
      await pool.end();
    }
  });
});
