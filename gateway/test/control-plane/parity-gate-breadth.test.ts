/**
 * The flip gate weighs patients, not only requests: one good patient read 500 times must not
 * open a gate while another patient differs (the probe's repro: 99.34 % over 606 compared, the
 * gate opened, patient 100002 then served with the wrong last name). A broad sample opens it;
 * keys add up across gateway instances and are stored hashed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { rawRequest } from '../support/raw-http.js';
import { mrnOf, patient, sendJson, settled } from '../support/shadow-scene.js';
import { adminClient, startStoreGateway, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: ReturnType<typeof adminClient>;

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
    sticky: { param: mrn }
    parity: { threshold: 0.99, minCompared: 500, window: 1h }
  - id: results-read
    match: { methods: [GET], path: /api/results/:mrn }
    mode: shadow
    target: patient-service
    parity: { threshold: 0.99, minCompared: 150, window: 1h }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

/** Compared requests of `rule` on this instance so far. */
const comparedOn = (g: StoreGateway, rule: string) => [...(g.gateway.recorder.compared.get(rule)?.values() ?? [])].reduce((a, b) => a + b, 0);
const settledOn = (g: StoreGateway, rule: string) => comparedOn(g, rule) + [...(g.gateway.recorder.skips.get(rule)?.values() ?? [])].reduce((a, b) => a + b, 0);

/** GETs `path` until this instance compared `n` more requests of `rule` (a copy may be skipped when the pool is busy). */
async function readUntilCompared(g: StoreGateway, rule: string, path: (i: number) => string, n: number): Promise<void> {
  const goal = comparedOn(g, rule) + n;
  for (let i = 0; comparedOn(g, rule) < goal; i++) {
    await rawRequest(g.url, 'GET', path(i));
    await settled(g.gateway, rule, settledOn(g, rule));
    if (i > n * 3) throw new Error(`rule ${rule}: ${comparedOn(g, rule)} of ${goal} compared`);
  }
  await g.gateway.recorder.flush();
}

interface Gate {
  rule: string;
  open: boolean;
  compared: number;
  mismatches: number;
  keys: number;
  mismatchedKeys: number;
  keyParity: number | null;
  minKeys: number;
}

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'parity_breadth');
  legacy = await startTestUpstream('legacy', (req, res) => sendJson(res, 200, { ...patient(mrnOf(req)), lastName: 'SMITH' }));
  // the known difference: patient 100002's last name
  fresh = await startTestUpstream('new', (req, res) => sendJson(res, 200, { ...patient(mrnOf(req)), lastName: mrnOf(req) === '100002' ? 'SMYTH' : 'SMITH' }));
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

describe('the flip gate counts patients', () => {
  it('refuses a flip whose volume comes from one patient read over and over while another differs', async () => {
    await readUntilCompared(gw, 'patients-read', () => '/api/patients/100002', 2);
    await readUntilCompared(gw, 'patients-read', () => '/api/patients/100001', 500);
    const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const r = await admin.post<{ detail: string; gates: Gate[] }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'parity above 99 %', baseVersion: base });
    // by requests alone it is 500 of 502: the gate of old opened here
    expect(r.status).toBe(422);
    expect(r.body.gates).toEqual([
      expect.objectContaining({ rule: 'patients-read', compared: 502, mismatches: 2, parity: 500 / 502, keys: 2, mismatchedKeys: 1, keyParity: 0.5, minKeys: 100, open: false }),
    ]);
    expect(r.body.detail).toContain('by key: parity 0.5000 over 2 distinct keys, 1 with a mismatch, the gate needs as much over ≥ 100 distinct keys');

    const figures = await admin.get<Gate & { gate: { open: boolean; minKeys: number } }>('/api/parity/patients-read');
    expect(figures.body).toMatchObject({ keys: 2, mismatchedKeys: 1, keyParity: 0.5, gate: { open: false, minKeys: 100 } });
  });

  it('opens on a broad sample, with keys from several instances added up once each', async () => {
    const other = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
    try {
      // 150 patients, read through two instances, the first 50 through both
      await readUntilCompared(gw, 'results-read', (i) => `/api/results/${200_000 + (i % 100)}`, 100);
      await readUntilCompared(other, 'results-read', (i) => `/api/results/${200_000 + (i % 50)}`, 50);
      await readUntilCompared(other, 'results-read', (i) => `/api/results/${200_100 + (i % 50)}`, 50);
    } finally {
      await other.close();
    }
    const figures = await admin.get<Gate & { gate: { open: boolean } }>('/api/parity/results-read');
    expect(figures.body).toMatchObject({ compared: 200, keys: 150, mismatchedKeys: 0, keyParity: 1, gate: { open: true } });
    const base = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const r = await admin.post<{ change: { gates: Gate[] } }>('/api/rules/results-read/flip', { mode: 'new', reason: 'broad parity', baseVersion: base });
    expect(r.status).toBe(200);
    expect(r.body.change.gates).toMatchObject([{ rule: 'results-read', open: true, keys: 150, mismatchedKeys: 0, minKeys: 100 }]);
  });

  it('stores keys hashed, never the MRN', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ rule: string; target: string; key: string }>('SELECT rule, target, key::text FROM parity_keys');
      expect(rows.length).toBe(152);
      const mrns = new Set(['100001', '100002', ...Array.from({ length: 150 }, (_, i) => String(200_000 + i))]);
      expect(rows.filter((r) => mrns.has(r.key) || r.key.length < 12)).toEqual([]);
      expect(new Set(rows.map((r) => r.target))).toEqual(new Set(['patient-service']));
    } finally {
      await client.end();
    }
  });
});
