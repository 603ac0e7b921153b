/**
 * Parity figures from a crafted set of matching and mismatching answers, exactly; the flip gate
 * refusing and permitting as the rules say; a forced flip on the audit log.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { rawRequest } from '../support/raw-http.js';
import { legacyHandler, mrnOf, patient, sendJson, settled } from '../support/shadow-scene.js';
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
    compare: { ignore: [/servedAt], arrayKeys: { /identifiers: system }, sampleRate: 1 }
    parity: { threshold: 0.9, minCompared: 10, window: 1h, gateAbovePercent: 10 }
  - id: results-read
    match: { methods: [GET], path: /api/results/:mrn }
    mode: shadow
    target: patient-service
    parity: { threshold: 0.9, minCompared: 10 }
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters/:mrn }
    mode: shadow
    target: patient-service
    parity: { minCompared: 1 }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

/** mrn % 4 == 0: another name; mrn % 5 == 0: an extra field; always: another servedAt (ignored); mrn % 3 == 0: identifiers in another order (keyed). */
function crafted(req: Parameters<Parameters<typeof startTestUpstream>[1] & object>[0], res: Parameters<Parameters<typeof startTestUpstream>[1] & object>[1]) {
  const mrn = mrnOf(req);
  const n = Number(mrn);
  const p: Record<string, unknown> = { ...patient(mrn), servedAt: `2026-02-0${(n % 9) + 1}T00:00:00Z` };
  if ((req.url ?? '').startsWith('/api/patients/')) {
    if (n % 4 === 0) p.name = 'OTHER^NAME';
    if (n % 5 === 0) p.extra = true;
    if (n % 3 === 0) p.identifiers = [...(p.identifiers as unknown[])].reverse();
  } else delete p.servedAt;
  sendJson(res, 200, p);
}

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'parity_gate');
  const base = legacyHandler();
  legacy = await startTestUpstream('legacy', (req, res, body) => ((req.url ?? '').startsWith('/api/patients/') ? sendJson(res, 200, { ...patient(mrnOf(req)), servedAt: '2026-01-01T00:00:00Z' }) : base(req, res, body)));
  fresh = await startTestUpstream('new', crafted);
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
  for (let mrn = 1; mrn <= 20; mrn++) await rawRequest(gw.url, 'GET', `/api/patients/${mrn}`);
  for (let mrn = 1; mrn <= 10; mrn++) await rawRequest(gw.url, 'GET', `/api/results/${mrn}`);
  await settled(gw.gateway, 'patients-read', 20);
  await settled(gw.gateway, 'results-read', 10);
  await gw.gateway.traffic?.flush();
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

interface Figures {
  rule: string;
  compared: number;
  mismatches: number;
  parity: number | null;
  window: string;
  topFields: { field: string; count: number }[];
  total: { compared: number; mismatches: number; parity: number | null };
  gate: { threshold: number; minCompared: number; open: boolean | null } | null;
}

async function token(role: string): Promise<string> {
  const r = await admin.post<{ token: string }>('/api/tokens', { name: `t-${role}`, role, reason: 'test' });
  return r.body.token;
}

describe('parity figures', () => {
  it('are exactly those of the crafted set', async () => {
    const r = await admin.get<{ rules: Figures[] }>('/api/parity');
    expect(r.status).toBe(200);
    const byRule = new Map(r.body.rules.map((f) => [f.rule, f]));
    // mismatches: mrn 4, 8, 12, 16, 20 (name) and 5, 10, 15, 20 (extra): 8 of 20
    expect(byRule.get('patients-read')).toMatchObject({
      compared: 20,
      mismatches: 8,
      parity: 0.6,
      window: '1h',
      topFields: [
        { field: '/name', count: 5 },
        { field: '/extra', count: 4 },
      ],
      total: { compared: 20, mismatches: 8, parity: 0.6 },
      gate: { threshold: 0.9, minCompared: 10, open: false },
    });
    expect(byRule.get('results-read')).toMatchObject({ compared: 10, mismatches: 0, parity: 1, topFields: [], gate: { open: true } });
    // nothing compared: parity is null, not 0 or 1
    expect(byRule.get('encounters-read')).toMatchObject({ compared: 0, mismatches: 0, parity: null, gate: { open: false } });
  });

  it('keeps redacted samples with a readable diff, and answers per rule', async () => {
    const r = await admin.get<Figures & { samples: { fields: string[]; diff: unknown[]; redacted: boolean; route: string }[]; totalTopFields: unknown[] }>('/api/parity/patients-read?window=5m');
    expect(r.body).toMatchObject({ rule: 'patients-read', compared: 20, mismatches: 8, parity: 0.6, window: '5m' });
    expect(r.body.samples.length).toBeGreaterThan(0);
    expect(r.body.samples[0]).toMatchObject({ redacted: true, route: '/api/patients/:mrn' });
    // a readable diff: paths and value types
    expect((r.body.samples as unknown as { text: string }[]).map((x) => x.text).join('\n')).toMatch(/^(~ \/name: ‹string› → ‹string›|\+ \/extra: ‹boolean› \(only in the new service\))$/m);
    expect(JSON.stringify(r.body.samples)).not.toMatch(/OTHER|TEST\^PATIENT|1970/);
    expect(r.body.totalTopFields).toEqual([
      { field: '/name', count: 5 },
      { field: '/extra', count: 4 },
    ]);
    expect((await admin.get('/api/parity/no-such-rule')).status).toBe(404);
  });

  it('counts the traffic of every rule', async () => {
    const r = await admin.get<{ rules: { rule: string; targets: { target: string; requests: number }[] }[] }>('/api/traffic?window=5m');
    expect(r.body.rules.find((x) => x.rule === 'patients-read')).toEqual({ rule: 'patients-read', targets: [{ target: 'legacy', requests: 20, errors5xx: 0, errors4xx: 0 }], fallbacks: 0 });
  });
});

describe('flip gate', () => {
  it('refuses to go to new below the threshold, with the figures', async () => {
    const r = await admin.post<{ type: string; detail: string; gates: unknown[] }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'go live', baseVersion: 1 });
    expect(r.status).toBe(422);
    expect(r.body.type).toBe('https://ficus.dev/problems/parity-gate');
    expect(r.body.gates).toEqual([{ rule: 'patients-read', move: 'to new', parity: 0.6, compared: 20, mismatches: 8, keys: 20, mismatchedKeys: 8, keyParity: 0.6, threshold: 0.9, minCompared: 10, minKeys: 10, window: '1h', open: false }]);
    expect(r.body.detail).toContain('parity 0.6000 over 20 compared requests in the last 1h; the gate needs parity ≥ 0.9 over ≥ 10 compared requests');
    const nothing = await admin.post<{ detail: string }>('/api/rules/encounters-read/flip', { mode: 'new', reason: 'go live', baseVersion: 1 });
    expect(nothing.status).toBe(422);
    expect(nothing.body.detail).toContain('nothing compared');
  });

  it('lets a canary up to the gated percent through, and no further', async () => {
    const low = await admin.post<{ version: number }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 5, reason: 'pilot', baseVersion: 1 });
    expect(low.status).toBe(200);
    const high = await admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 50, reason: 'more', baseVersion: low.body.version });
    expect(high.status).toBe(422);
  });

  it('permits a rule at parity', async () => {
    const current = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const r = await admin.post<{ version: number; change: { gates: { open: boolean }[] } }>('/api/rules/results-read/flip', { mode: 'new', reason: 'parity 1.0 over 10', baseVersion: current });
    expect(r.status).toBe(200);
    expect(r.body.change.gates).toMatchObject([{ rule: 'results-read', open: true, parity: 1, compared: 10 }]);
  });

  it('lets an admin force it with a reason, audited as forced; an operator may not', async () => {
    const operator = adminClient(gw.adminUrl, await token('operator'));
    let base = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const denied = await operator.post('/api/rules/patients-read/flip', { mode: 'new', reason: 'force it', baseVersion: base, force: true });
    expect(denied.status).toBe(403);
    base = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const r = await admin.post<{ version: number; change: { forced: boolean; summary: string } }>('/api/rules/patients-read/flip', {
      mode: 'new',
      reason: 'known difference in name formatting, accepted by the ward',
      baseVersion: base,
      force: true,
    });
    expect(r.status).toBe(200);
    expect(r.body.change.forced).toBe(true);
    expect(r.body.change.summary).toContain('forced past the parity gate');
    const audit = await admin.get<{ entries: { action: string; outcome: string; reason: string; detail: Record<string, unknown> }[] }>('/api/audit?target=patients-read');
    const [forced] = audit.body.entries;
    expect(forced).toMatchObject({ action: 'rules.flip', outcome: 'ok', reason: 'known difference in name formatting, accepted by the ward', detail: { forced: true } });
    expect(forced!.detail.gates).toMatchObject([{ parity: 0.6, compared: 20, open: false }]);
    // the refusals are on the record too, with their figures
    expect(audit.body.entries.filter((e) => e.outcome === 'refused' && e.detail.parityGate)).toHaveLength(2);
    // and the gateway follows
    for (let i = 0; i < 500; i++) {
      const res = await rawRequest(gw.url, 'GET', '/api/patients/7');
      if (res.rawHeaders.some(([k, v]) => k === 'x-ficus-route' && v === 'patients-read; patient-service')) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the flip did not reach the gateway');
  });

  it('tells a caller their role', async () => {
    const viewer = adminClient(gw.adminUrl, await token('viewer'));
    expect((await viewer.get('/api/whoami')).body).toEqual({ actor: 'token:t-viewer', role: 'viewer', auth: 'token' });
  });

  it('adds up the counts of several gateway instances', async () => {
    const other = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
    try {
      for (let mrn = 1; mrn <= 3; mrn++) await rawRequest(gw.url, 'GET', `/api/encounters/${mrn}`);
      for (let mrn = 4; mrn <= 5; mrn++) await rawRequest(other.url, 'GET', `/api/encounters/${mrn}`);
      await settled(gw.gateway, 'encounters-read', 3);
      await settled(other.gateway, 'encounters-read', 2);
      // legacy adds a nonce under /api/encounters that the new service does not have: every one differs
      const r = await admin.get<Figures>('/api/parity/encounters-read');
      expect(r.body).toMatchObject({ compared: 5, mismatches: 5, parity: 0, topFields: [{ field: '/nonce', count: 5 }] });
    } finally {
      await other.close();
    }
  });
});
