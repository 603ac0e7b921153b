/**
 * The parity gate holds for rollbacks as for flips: a rollback that moves a gated rule toward
 * the new service (to new, a canary above its gated percent) needs the gate, or an admin's
 * force on the record; an operator cannot get past a closed gate by rolling back to a version
 * made past it, nor to one from before the gate. Rolling back toward legacy is never held. And
 * a canary flip that passed its gate carries no warning about being above the gated percent.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { rawRequest } from '../support/raw-http.js';
import { legacyHandler, mrnOf, patient, sendJson, settled } from '../support/shadow-scene.js';
import type { GateFigures as Gate } from '../../src/admin/parity-gate.js';
import { adminClient, roleClient, startStoreGateway, type AdminClient, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;
let operator: AdminClient;

const upstreamsYaml = (legacyUrl: string, newUrl: string) => `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
`;

const httpYaml = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    sticky: { param: mrn }
    parity: { threshold: 0.95, minCompared: 10, window: 1h, gateAbovePercent: 10 }
  - id: results-read
    match: { methods: [GET], path: /api/results/:mrn }
    mode: shadow
    target: patient-service
    sticky: { param: mrn }
    parity: { threshold: 0.95, minCompared: 10, window: 1h, gateAbovePercent: 10 }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

interface Change {
  kind: string;
  summary: string;
  forced?: boolean;
  gates?: Gate[];
}
interface AuditEntries {
  entries: { action: string; outcome: string; target: string; reason: string; detail: Record<string, unknown> }[];
}

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'rollback_gate');
  legacy = await startTestUpstream('legacy', legacyHandler());
  // patients-read: 1 of 11 differs (parity 0.909, under its 0.95); results-read: all match
  fresh = await startTestUpstream('new', (req, res) => {
    const mrn = mrnOf(req);
    sendJson(res, 200, (req.url ?? '').startsWith('/api/patients/') && mrn === '11' ? { ...patient(mrn), phone: '555-0199' } : patient(mrn));
  });
  gw = await startStoreGateway({ storeUrl: db.url, files: { '00-upstreams.yaml': upstreamsYaml(legacy.url, fresh.url), '10-http.yaml': httpYaml } });
  admin = adminClient(gw.adminUrl);
  operator = await roleClient(admin, gw.adminUrl, 't-operator', 'operator');
  for (let mrn = 1; mrn <= 11; mrn++) await rawRequest(gw.url, 'GET', `/api/patients/${mrn}`);
  for (let mrn = 1; mrn <= 10; mrn++) await rawRequest(gw.url, 'GET', `/api/results/${mrn}`);
  await settled(gw.gateway, 'patients-read', 11);
  await settled(gw.gateway, 'results-read', 10);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

const current = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;
const modeOf = async (rule: string) => (await admin.get<{ rule: { mode: string; percent?: number } }>(`/api/rules/${rule}`)).body.rule;

describe('rollback through the parity gate', () => {
  it('refuses a rollback to new past a closed gate, as the flip is refused; only an admin may force it, on the record; back toward legacy is never held', async () => {
    // an admin went to new past the gate, then back to shadow
    const forced = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'accepted by the ward', baseVersion: await current(), force: true });
    expect(forced.status).toBe(200);
    const toNew = forced.body.version;
    const back = await operator.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'shadow', reason: 'trouble on ward 7', baseVersion: toNew });
    expect(back.status).toBe(200);
    const inShadow = back.body.version;

    const flip = await operator.post('/api/rules/patients-read/flip', { mode: 'new', reason: 'go live', baseVersion: inShadow });
    expect(flip.status).toBe(422);
    const rollback = await operator.post<{ type: string; detail: string; gates: Gate[] }>('/api/rollback', { version: toNew, reason: 'go live again', baseVersion: inShadow });
    expect(rollback.status).toBe(422);
    expect(rollback.body.type).toBe('https://ficus.dev/problems/parity-gate');
    expect(rollback.body.gates).toEqual([{ rule: 'patients-read', move: 'to new', parity: 10 / 11, compared: 11, mismatches: 1, keys: 11, mismatchedKeys: 1, keyParity: 10 / 11, threshold: 0.95, minCompared: 10, minKeys: 10, window: '1h', open: false }]);
    expect(rollback.body.detail).toContain('rule "patients-read" to new: parity 0.9091 over 11 compared requests in the last 1h; the gate needs parity ≥ 0.95 over ≥ 10 compared requests');
    expect(await current()).toBe(inShadow);
    expect((await modeOf('patients-read')).mode).toBe('shadow');

    const denied = await operator.post<{ detail: string }>('/api/rollback', { version: toNew, reason: 'go live again', baseVersion: inShadow, force: true });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe('forcing a rollback past the parity gate needs the role "admin"');

    const byAdmin = await admin.post<{ version: number; change: Change }>('/api/rollback', { version: toNew, reason: 'the ward accepts the phone format', baseVersion: inShadow, force: true });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.change).toMatchObject({ kind: 'rollback', forced: true, summary: `rollback to version ${toNew}: patients-read: shadow (patient-service) → new (patient-service) (forced past the parity gate)` });
    expect(byAdmin.body.change.gates).toMatchObject([{ rule: 'patients-read', move: 'to new', compared: 11, open: false }]);
    const version = (await admin.get<{ change: Change }>(`/api/versions/${byAdmin.body.version}`)).body;
    expect(version.change).toMatchObject({ forced: true, gates: [{ rule: 'patients-read', open: false }] });

    const audit = (await admin.get<AuditEntries>('/api/audit?action=rules.rollback')).body.entries;
    expect(audit.find((e) => e.outcome === 'ok' && e.detail.forced === true)).toMatchObject({ target: `version ${toNew}`, reason: 'the ward accepts the phone format', detail: { gates: [{ rule: 'patients-read', compared: 11, open: false }] } });
    expect(audit.find((e) => e.outcome === 'refused')).toMatchObject({ target: `version ${toNew}`, detail: { parityGate: [{ rule: 'patients-read', open: false }] } });
    expect(audit.find((e) => e.outcome === 'denied')).toBeDefined();

    // and back toward legacy, the gate closed as it is, an operator is never held
    const seed = await operator.post<{ version: number; change: Change }>('/api/rollback', { version: 1, reason: 'back to shadow', baseVersion: byAdmin.body.version });
    expect(seed.status).toBe(200);
    expect(seed.body.change.forced).toBeUndefined();
    expect(seed.body.change.gates).toBeUndefined();
    expect((await modeOf('patients-read')).mode).toBe('shadow');
  });

  it('holds a canary above its gated percent, and lets one up to it through', async () => {
    const high = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 50, reason: 'pilot', baseVersion: await current(), force: true });
    const low = await operator.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 5, reason: 'fewer', baseVersion: high.body.version });
    expect(low.status).toBe(200);
    const back = await operator.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'shadow', reason: 'stop', baseVersion: low.body.version });
    const refused = await operator.post<{ gates: Gate[] }>('/api/rollback', { version: high.body.version, reason: 'pilot again', baseVersion: back.body.version });
    expect(refused.status).toBe(422);
    expect(refused.body.gates).toMatchObject([{ rule: 'patients-read', move: 'canary 50 % (gated above 10 %)', open: false }]);
    const fine = await operator.post<{ change: Change }>('/api/rollback', { version: low.body.version, reason: 'small pilot', baseVersion: back.body.version });
    expect(fine.status).toBe(200);
    expect(fine.body.change.gates).toBeUndefined();
    expect(await modeOf('patients-read')).toMatchObject({ mode: 'canary', percent: 5 });
  });

  it('is no way around a gate to a version from before it', async () => {
    const rules = async () => (await admin.get<{ rules: Record<string, unknown>[]; upstreams: Record<string, unknown> }>('/api/rules')).body;
    const now = await rules();
    // an admin's import: patients-read in mode new, without a parity section (as before shadowing)
    const ungated = now.rules.map((r) => (r.id === 'patients-read' ? { ...Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'parity' && k !== 'percent')), mode: 'new' } : r));
    const before = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: ungated }, reason: 'as it was', baseVersion: await current(), kind: 'import' });
    expect(before.status).toBe(200);
    const gated = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: now.rules.map((r) => (r.id === 'patients-read' ? { ...r, mode: 'shadow', percent: undefined } : r)) }, reason: 'gate it', baseVersion: before.body.version, kind: 'import' });
    expect(gated.status).toBe(200);
    // it would take the gate away: an operator's rollback keeps it, and an admin is held by the gate in force
    const held = await operator.post<{ gates: Gate[] }>('/api/rollback', { version: before.body.version, reason: 'as it was', baseVersion: gated.body.version });
    expect(held.status).toBe(422);
    expect(held.body.gates).toMatchObject([{ rule: 'patients-read', move: 'to new', open: false }]);
    const r = await admin.post<{ gates: Gate[] }>('/api/rollback', { version: before.body.version, reason: 'as it was', baseVersion: gated.body.version });
    expect(r.status).toBe(422);
    expect(r.body.gates).toMatchObject([{ rule: 'patients-read', move: 'to new', open: false }]);
    expect((await modeOf('patients-read')).mode).toBe('shadow');
  });
});

describe('a canary flip that passed its gate', () => {
  it('carries no warning about the canary being above the gated percent', async () => {
    const r = await operator.post<{ change: Change; warnings?: unknown[] }>('/api/rules/results-read/flip', { mode: 'canary', percent: 50, reason: 'parity 1 over 10', baseVersion: await current() });
    expect(r.status).toBe(200);
    expect(r.body.change.gates).toMatchObject([{ rule: 'results-read', move: 'canary 50 % (gated above 10 %)', open: true }]);
    expect(r.body.warnings).toBeUndefined();
  });
});
