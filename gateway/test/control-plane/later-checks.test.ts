/**
 * Checks added to rule validation after rules were applied (on 2026-12-07: a header regex with a
 * repetition inside a repetition, a path written percent-encoded) must not stop what already
 * serves: a rule store version stored before the upgrade (here written as an older gateway wrote
 * it) is served at start with a warning, and a flip or a rollback of it, an incident's way back,
 * goes through; only a change that brings such a pattern is refused. Without this, the upgrade
 * refused the stored rules and every flip of a rule set holding one was refused (422).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { until } from '../../../test-support/until.js';
import { header, rawRequest } from '../support/raw-http.js';
import { adminClient, startStoreGateway, type AdminClient, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;

const HAZARD = '^[a-z]+(-[a-z]+)*$';
const files = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:\n  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }\n  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }\n`,
  '10-http.yaml': `http:
  - id: ward
    match: { path: /api/wards/**, headers: { x-ward: { regex: "^icu$" } } }
    mode: new
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'later_checks');
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  gw = await startStoreGateway({ storeUrl: db.url, files: files(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

type Rule = { id: string; mode: string; match: { headers?: Record<string, { regex?: string }> } };
type Rules = { version: number; rules: Rule[]; hl7: unknown[]; upstreams: Record<string, unknown> };
const current = async () => (await admin.get<Rules>('/api/rules')).body;
const routeOf = async (ward: string) => header(await rawRequest(gw.url, 'GET', '/api/wards/7', { 'x-ward': ward }), 'x-ficus-route');

describe('a stored version holding a pattern a later check refuses', () => {
  it('is served (the store read, as at start), flipped and rolled back; a change bringing a new one is refused', async () => {
    // as an older gateway stored it: the ward rule's regex now refused for new changes
    const seeded = await current();
    const older = { upstreams: seeded.upstreams, http: seeded.rules.map((r) => (r.id === 'ward' ? { ...r, match: { ...r.match, headers: { 'x-ward': { regex: HAZARD } } } } : r)) };
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO rule_versions (version, rule_set, author, reason, change) VALUES ($1, $2, 'older-gateway', 'before the upgrade', '{"kind":"apply","summary":"ward regex"}')`, [
        seeded.version + 1,
        JSON.stringify(older),
      ]);
    } finally {
      await client.end();
    }
    const stored = seeded.version + 1;
    await until(async () => (await routeOf('icu-north')) === 'ward; patient-service', 'the stored version served');

    const flip = await admin.post<{ version: number; warnings?: { reason: string }[] }>('/api/rules/ward/flip', { mode: 'legacy', reason: 'incident on ward 7', baseVersion: stored });
    expect(flip.status).toBe(200);
    expect(flip.body.warnings?.map((w) => w.reason)).toEqual([expect.stringMatching(/repeats inside .*kept: it was serving before this check/)]);
    await until(async () => (await routeOf('icu-north')) === 'ward; legacy', 'the flip served');

    const back = await admin.post<{ version: number }>('/api/rollback', { version: stored, reason: 'incident over', baseVersion: flip.body.version });
    expect(back.status).toBe(200);
    await until(async () => (await routeOf('icu-north')) === 'ward; patient-service', 'the rollback served');

    const brought = { ...older, http: older.http.map((r) => (r.id === 'ward' ? { ...r, match: { ...r.match, headers: { 'x-ward': { regex: '^(b+)+$' } } } } : r)) };
    const refused = await admin.put<{ status: number; detail: string }>('/api/rules', { ruleSet: brought, reason: 'new regex', baseVersion: back.body.version });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toMatch(/repeats inside/);
  });
});
