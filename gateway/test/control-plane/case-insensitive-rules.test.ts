/**
 * A gateway run with FICUS_PATHS_CASE_INSENSITIVE warns, through the admin API, about a rule
 * that only differs from an earlier one by the case of its path: on that gateway it can never
 * match (the requests for it go to the earlier rule, as this test sees through the proxy).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSeededScene, type AdminClient, type SeededScene, type StoreGateway } from '../support/store-gateway.js';

let scene: SeededScene;
let gw: StoreGateway;
let admin: AdminClient;

beforeAll(async () => {
  scene = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'admin_case_insensitive', env: { FICUS_PATHS_CASE_INSENSITIVE: 'true' } });
  ({ gw, admin } = scene);
});
afterAll(() => scene?.close());

type Issue = { ruleId?: string; reason: string };

describe('rules on a case-insensitive gateway', () => {
  it('warns about a rule only a different case sets apart, and that rule indeed never gets a request', async () => {
    const current = (await admin.get<{ version: number; rules: { id: string }[]; upstreams: unknown }>('/api/rules')).body;
    const iis = { id: 'patients-read-iis', match: { methods: ['GET'], path: '/API/Patients/:mrn' }, mode: 'new', target: 'patient-service' };
    const ruleSet = { upstreams: current.upstreams, http: [current.rules[0], iis, ...current.rules.slice(1)] };

    const checked = await admin.post<{ valid: boolean; warnings: Issue[] }>('/api/rules/validate', { ruleSet });
    expect(checked.status).toBe(200);
    expect(checked.body.valid).toBe(true);
    expect(checked.body.warnings).toEqual([expect.objectContaining({ ruleId: 'patients-read-iis', reason: expect.stringContaining('can never match while paths compare regardless of case (FICUS_PATHS_CASE_INSENSITIVE): rule "patients-read"') })]);

    const applied = await admin.put<{ version: number; changed: boolean; warnings?: Issue[] }>('/api/rules', { ruleSet, reason: 'IIS spelling', baseVersion: current.version });
    expect(applied.body).toMatchObject({ changed: true, version: current.version + 1 });
    expect(applied.body.warnings?.map((w) => w.ruleId)).toEqual(['patients-read-iis']);

    // once the gateway serves that version, the IIS spelling still goes to the first rule
    let served = 0;
    for (let i = 0; i < 200 && served !== applied.body.version; i++) {
      served = ((await (await fetch(`${gw.url}/readyz`)).json()) as { rules: { version: number } }).rules.version;
      if (served !== applied.body.version) await new Promise((r) => setTimeout(r, 20));
    }
    expect(served).toBe(applied.body.version);
    expect((await fetch(`${gw.url}/API/Patients/100001`)).headers.get('x-ficus-route')).toBe('patients-read; legacy');
  });
});
