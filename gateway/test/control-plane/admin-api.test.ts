import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startSeededScene, type AdminClient, type SeededScene, type StoreGateway } from '../support/store-gateway.js';

let scene: SeededScene;
let gw: StoreGateway;
let admin: AdminClient;

beforeAll(async () => {
  scene = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'admin_api' });
  ({ gw, admin } = scene);
});
afterAll(() => scene?.close());

describe('admin API', () => {
  it('serves the seeded rules as version 1', async () => {
    const r = await admin.get<{ version: number; rules: { id: string; mode: string }[] }>('/api/rules');
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    expect(r.body.rules.map((x) => x.id)).toEqual(['patients-read', 'patients-write', 'legacy-default']);
    const one = await admin.get<{ rule: { id: string } }>('/api/rules/patients-read');
    expect(one.body.rule.id).toBe('patients-read');
    expect((await admin.get('/api/rules/nope')).status).toBe(404);
  });

  it('flips a rule, and the gateway follows', async () => {
    const r = await admin.post<{ version: number; change: { summary: string } }>('/api/rules/patients-read/flip', { mode: 'new', reason: 'pilot on ward 7', baseVersion: 1 });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(2);
    expect(r.body.change.summary).toBe('patients-read: legacy → new (patient-service)');
    for (let i = 0; i < 50; i++) {
      const res = await fetch(gw.url + '/api/patients/100001');
      if (res.headers.get('x-ficus-route') === 'patients-read; patient-service') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await fetch(gw.url + '/api/patients/100001');
    expect(res.headers.get('x-ficus-route')).toBe('patients-read; patient-service');
  });

  it('refuses a stale change with 409 and the current version', async () => {
    const r = await admin.post<{ currentVersion: number; type: string }>('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'late', baseVersion: 1 });
    expect(r.status).toBe(409);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ currentVersion: 2, type: 'https://ficus.dev/problems/stale-version' });
  });

  it('explains a request', async () => {
    const r = await admin.get('/api/explain?method=GET&path=/api/patients/123&header=x-ward:7');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rule: 'patients-read', mode: 'new', target: 'patient-service' });
    expect(String(r.body.reason)).toContain('mode new');
  });

  it('serves an OpenAPI document describing every route', async () => {
    const doc = await (await fetch(gw.adminUrl + '/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/rules', '/api/rules/{id}', '/api/rules/{id}/flip', '/api/rules/validate', '/api/explain', '/api/versions', '/api/versions/{a}/diff/{b}', '/api/rollback', '/api/audit', '/api/tokens']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
