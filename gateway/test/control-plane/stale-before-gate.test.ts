/**
 * A change made on an out-of-date version is told so first: the dashboard's flip dialog, open
 * while someone else changed the rules, got 422 "parity gate closed, tick Force" for a flip past
 * a closed gate, and an admin ticking Force would have flipped over rules they never saw. Now a
 * stale base is 409 before any gate (or validity) check, for a flip, an import and a rollback,
 * naming what changed since.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { adminClient, startStoreGateway, type AdminClient, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;

// patients-read is gated and nothing was compared: its gate is closed
const httpYaml = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    parity: { threshold: 0.95, minCompared: 10, window: 1h }
  - id: patients-write
    match: { methods: [POST], path: /api/patients }
    mode: legacy
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'stale_before_gate');
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  gw = await startStoreGateway({
    storeUrl: db.url,
    files: {
      '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacy.url}", healthCheck: { enabled: false } }
  patient-service: { url: "${fresh.url}", healthCheck: { enabled: false } }
`,
      '10-http.yaml': httpYaml,
    },
  });
  admin = adminClient(gw.adminUrl);
  // someone else's change lands while the dialog is open on version 1
  expect((await admin.post('/api/rules/patients-write/flip', { mode: 'shadow', reason: 'compare writes', baseVersion: 1 })).status).toBe(200);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

interface Stale {
  type: string;
  baseVersion: number;
  currentVersion: number;
  rulesChanged: string[];
  changesSince: { version: number; reason: string }[];
}

const isStale = (r: { status: number; body: Stale }) => {
  expect(r.status, JSON.stringify(r.body)).toBe(409);
  expect(r.body).toMatchObject({ type: 'https://ficus.dev/problems/stale-version', baseVersion: 1, currentVersion: 2, rulesChanged: ['patients-write'], changesSince: [{ version: 2, reason: 'compare writes' }] });
};

describe('a change from an out-of-date version', () => {
  it('is 409 before the parity gate is asked: a flip past a closed gate, forced or not', async () => {
    isStale(await admin.post<Stale>('/api/rules/patients-read/flip', { mode: 'new', reason: 'go live', baseVersion: 1 }));
    isStale(await admin.post<Stale>('/api/rules/patients-read/flip', { mode: 'new', reason: 'go live', baseVersion: 1, force: true }));
    // from the current version the gate answers, as before
    expect((await admin.post('/api/rules/patients-read/flip', { mode: 'new', reason: 'go live', baseVersion: 2 })).status).toBe(422);
  });

  it('is 409 before the gate for an import and a rollback too', async () => {
    const rules = (await admin.get<{ rules: Record<string, unknown>[]; upstreams: Record<string, unknown> }>('/api/rules')).body;
    const live = rules.rules.map((r) => (r.id === 'patients-read' ? { ...r, mode: 'new' } : r));
    isStale(await admin.put<Stale>('/api/rules', { ruleSet: { upstreams: rules.upstreams, http: live }, reason: 'go live', baseVersion: 1, kind: 'import' }));
    isStale(await admin.post<Stale>('/api/rollback', { version: 1, reason: 'back', baseVersion: 1 }));
    const versions = (await admin.get<{ current: number }>('/api/versions?limit=1')).body;
    expect(versions.current).toBe(2);
  });
});
