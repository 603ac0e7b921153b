/**
 * Parity evidence is for the target it was gathered against: a flip (or rollback) that sends a
 * rule's patients to another service is gated as a move from no exposure, with only the
 * comparisons against that service counting. And a parity gate cannot be removed or loosened
 * on the way (a rollback to a version from before it, then a free flip) without an admin.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { rawRequest } from '../support/raw-http.js';
import { legacyHandler, patient, mrnOf, sendJson, settled } from '../support/shadow-scene.js';
import type { GateFigures as Gate } from '../../src/admin/parity-gate.js';
import { adminClient, roleClient, startStoreGateway, type AdminClient, type StoreGateway } from '../support/store-gateway.js';
import { answer, startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let patients: TestUpstream;
let results: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;
let operator: AdminClient;

const httpYaml = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    sticky: { param: mrn }
    parity: { threshold: 0.95, minCompared: 10, window: 1h }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

interface Rule {
  mode: string;
  target: string;
  parity?: Record<string, unknown>;
}
interface RuleSetBody {
  version: number;
  rules: (Rule & { id: string })[];
  upstreams: Record<string, unknown>;
}

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'gate_target');
  legacy = await startTestUpstream('legacy', legacyHandler());
  patients = await startTestUpstream('patients', (req, res) => sendJson(res, 200, patient(mrnOf(req))));
  // another new service, which knows no patient
  results = await startTestUpstream('results', answer(404, 'no such route'));
  gw = await startStoreGateway({
    storeUrl: db.url,
    files: {
      '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacy.url}", healthCheck: { enabled: false } }
  patient-service: { url: "${patients.url}", healthCheck: { enabled: false } }
  results-service: { url: "${results.url}", healthCheck: { enabled: false } }
`,
      '10-http.yaml': httpYaml,
    },
  });
  admin = adminClient(gw.adminUrl);
  operator = await roleClient(admin, gw.adminUrl, 'gate-operator', 'operator');
  for (let mrn = 1; mrn <= 12; mrn++) await rawRequest(gw.url, 'GET', `/api/patients/${mrn}`);
  await settled(gw.gateway, 'patients-read', 12);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await patients?.close();
  await results?.close();
  await db?.drop();
});

const rules = async () => (await admin.get<RuleSetBody>('/api/rules')).body;
const ruleOf = async (id = 'patients-read') => (await admin.get<{ rule: Rule }>(`/api/rules/${id}`)).body.rule;

describe('a change of target through the parity gate', () => {
  it('refuses a flip to new naming another target: the comparisons were made against patient-service', async () => {
    const base = (await rules()).version;
    const r = await operator.post<{ type: string; detail: string; gates: Gate[] }>('/api/rules/patients-read/flip', { mode: 'new', target: 'results-service', reason: 'x', baseVersion: base });
    expect(r.status).toBe(422);
    expect(r.body.type).toBe('https://ficus.dev/problems/parity-gate');
    expect(r.body.gates).toEqual([
      { rule: 'patients-read', move: 'to new (target patient-service → results-service)', parity: null, compared: 0, mismatches: 0, keys: 0, mismatchedKeys: 0, keyParity: null, threshold: 0.95, minCompared: 10, minKeys: 10, window: '1h', open: false, target: 'results-service', countedMinutes: 0 },
    ]);
    expect(r.body.detail).toContain('counting only the 0 minutes in which it compared against "results-service" (not the minute of the change of target, nor the next)');
    expect(await ruleOf()).toMatchObject({ mode: 'shadow', target: 'patient-service' });
  });

  it('lets the flip to new on the target it was compared against through, and holds a move from new to new on another target', async () => {
    const ok = await operator.post<{ version: number; change: { gates: Gate[] } }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'parity 1 over 12', baseVersion: (await rules()).version });
    expect(ok.status).toBe(200);
    expect(ok.body.change.gates).toEqual([expect.objectContaining({ rule: 'patients-read', move: 'to new', compared: 12, parity: 1, open: true })]);
    expect(ok.body.change.gates[0]).not.toHaveProperty('countedMinutes');

    const moved = await operator.post<{ gates: Gate[] }>('/api/rules/patients-read/flip', { mode: 'new', target: 'results-service', reason: 'x', baseVersion: ok.body.version });
    expect(moved.status).toBe(422);
    expect(moved.body.gates).toMatchObject([{ move: 'to new (target patient-service → results-service)', compared: 0, open: false }]);
    expect(await ruleOf()).toMatchObject({ mode: 'new', target: 'patient-service' });
    const res = await rawRequest(gw.url, 'GET', '/api/patients/100002');
    expect(res.status).toBe(200);
  });

  it('holds a rollback to a version that sent the rule to another target, as the flip', async () => {
    const forced = await admin.post<{ version: number; change: { forced: boolean } }>('/api/rules/patients-read/flip', { mode: 'new', target: 'results-service', reason: 'admin decides', baseVersion: (await rules()).version, force: true });
    expect(forced.status).toBe(200);
    expect(forced.body.change.forced).toBe(true);
    // back to shadow against patient-service: toward legacy, never held
    const back = await operator.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'shadow', target: 'patient-service', reason: 'wrong service', baseVersion: forced.body.version });
    expect(back.status).toBe(200);
    const r = await operator.post<{ gates: Gate[] }>('/api/rollback', { version: forced.body.version, reason: 'again', baseVersion: back.body.version });
    expect(r.status).toBe(422);
    expect(r.body.gates).toMatchObject([{ rule: 'patients-read', move: 'to new (target patient-service → results-service)', compared: 0, target: 'results-service', open: false }]);
    expect(await ruleOf()).toMatchObject({ mode: 'shadow', target: 'patient-service' });
  });
});

describe('removing or loosening a parity gate', () => {
  it('takes an admin, by import or by rollback; an operator\'s rollback keeps the gate in force', async () => {
    const now = await rules();
    const withParity = (parity: Record<string, unknown> | undefined) => ({
      upstreams: now.upstreams,
      http: now.rules.map((r) => (r.id === 'patients-read' ? { ...Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'parity')), ...(parity ? { parity } : {}) } : r)),
    });
    // an admin's import without the gate: allowed, and said in the change
    const ungated = await admin.put<{ version: number; change: { summary: string; weakenedGates: unknown[] } }>('/api/rules', { ruleSet: withParity(undefined), reason: 'as before shadowing', baseVersion: now.version, kind: 'import' });
    expect(ungated.status).toBe(200);
    expect(ungated.body.change.weakenedGates).toEqual([{ rule: 'patients-read', from: { threshold: 0.95, minCompared: 10, window: '1h' }, what: 'gate removed' }]);
    expect(ungated.body.change.summary).toContain('parity gate loosened: patients-read, gate removed');
    const looser = await admin.put<{ version: number }>('/api/rules', { ruleSet: withParity({ threshold: 0.5, minCompared: 10, window: '1h' }), reason: 'looser', baseVersion: ungated.body.version, kind: 'import' });
    expect(looser.status).toBe(200);
    const gated = await admin.put<{ version: number }>('/api/rules', { ruleSet: withParity({ threshold: 0.95, minCompared: 10, window: '1h' }), reason: 'gate again', baseVersion: looser.body.version, kind: 'import' });
    expect(gated.status).toBe(200);

    // the probe's two steps: a rollback to the version without the gate, then a free flip; an
    // operator's rollback keeps the gate in force (here the routing is the same: no change at all)
    const kept = await operator.post<{ changed: boolean }>('/api/rollback', { version: ungated.body.version, reason: 'step one', baseVersion: gated.body.version });
    expect(kept.status).toBe(200);
    expect(kept.body.changed).toBe(false);
    const looserKept = await operator.post<{ changed: boolean }>('/api/rollback', { version: looser.body.version, reason: 'step one, looser', baseVersion: gated.body.version });
    expect(looserKept.body.changed).toBe(false);
    expect((await ruleOf()).parity).toEqual({ threshold: 0.95, minCompared: 10, window: '1h' });
    const flip = await operator.post('/api/rules/patients-read/flip', { mode: 'new', target: 'results-service', reason: 'step two', baseVersion: gated.body.version });
    expect(flip.status).toBe(422);

    // an admin may, on the record
    const byAdmin = await admin.post<{ change: { weakenedGates: unknown[] } }>('/api/rollback', { version: ungated.body.version, reason: 'the ward accepts it', baseVersion: gated.body.version });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.change.weakenedGates).toMatchObject([{ rule: 'patients-read', what: 'gate removed' }]);
    const ok = (await admin.get<{ entries: { detail: { change: { weakenedGates?: unknown[] } } }[] }>('/api/audit?action=rules.rollback&outcome=ok')).body.entries;
    expect(ok[0]!.detail.change.weakenedGates).toHaveLength(1);
  });
});

describe('an operator rolling back in an incident, after an admin added a gate', () => {
  it('rolls routing back and keeps the gate in force, on the record', async () => {
    const now = await rules();
    const ungatedHttp = now.rules.map((r): Record<string, unknown> => (r.id === 'patients-read' ? { ...Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'parity')), mode: 'shadow', target: 'patient-service' } : { ...r }));
    const before = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: ungatedHttp }, reason: 'shadow, no gate yet', baseVersion: now.version, kind: 'import' });
    expect(before.status).toBe(200);
    // the admin gates it, and sends it to new past the closed gate
    const gate = { threshold: 0.99, minCompared: 10, window: '1h' };
    const gatedNew = ungatedHttp.map((r) => (r.id === 'patients-read' ? { ...r, mode: 'new', parity: gate } : r));
    const live = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: gatedNew }, reason: 'go live', baseVersion: before.body.version, kind: 'import', force: true });
    expect(live.status).toBe(200);

    const r = await operator.post<{ version: number; change: { summary: string; keptGates?: unknown[] } }>('/api/rollback', { version: before.body.version, reason: 'INCIDENT: wrong charts', baseVersion: live.body.version });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.change.summary).toBe(
      `rollback to version ${before.body.version}: patients-read: new (patient-service) → shadow (patient-service) (parity gate kept as in force, version ${before.body.version}'s would loosen it: patients-read, gate removed)`,
    );
    expect(r.body.change.keptGates).toMatchObject([{ rule: 'patients-read', what: 'gate removed' }]);
    expect(await ruleOf()).toMatchObject({ mode: 'shadow', parity: gate });
  });

  it('refuses one that drops a gated rule, naming the flips an operator may make instead', async () => {
    const now = await rules();
    const withResults = [{ id: 'results-read', match: { methods: ['GET'], path: '/api/results/:mrn' }, mode: 'new', target: 'results-service', parity: { threshold: 0.99, minCompared: 10, window: '1h' } }, ...now.rules];
    const added = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: withResults }, reason: 'results live', baseVersion: now.version, kind: 'import', force: true });
    expect(added.status).toBe(200);
    const r = await operator.post<{ detail: string; instead: string[] }>('/api/rollback', { version: now.version, reason: 'INCIDENT', baseVersion: added.body.version });
    expect(r.status).toBe(403);
    expect(r.body.detail).toContain(`the rollback to version ${now.version} loosens the parity gate of rule "results-read" (rule removed, with its gate)`);
    expect(r.body.detail).toContain('To send the rules back to legacy, an operator may run: ficus rules flip results-read --mode legacy --reason "..."');
    expect(r.body.instead).toEqual(['ficus rules flip results-read --mode legacy --reason "..."']);
    const flip = await operator.post('/api/rules/results-read/flip', { mode: 'legacy', reason: 'INCIDENT', baseVersion: added.body.version });
    expect(flip.status).toBe(200);
  });
});
