/**
 * One audit action per operation, whatever the outcome: an import denied to an operator was
 * recorded as `rules.apply` with target `-`, a made one as `rules.import` on `rule-set`, so
 * `ficus audit --action rules.import` missed the denied attempts.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { roleClient, startSeededScene, type SeededScene } from '../support/store-gateway.js';

let s: SeededScene;

beforeAll(async () => {
  s = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'audit_one_action' });
});
afterAll(async () => {
  await s?.close();
});

interface Entries {
  entries: { action: string; target: string; outcome: string; status: number; reason: string }[];
}

describe('the audit action of PUT /api/rules', () => {
  it('is rules.import on rule-set for an import made, denied, conflicting or refused; rules.apply for an apply', async () => {
    const operator = await roleClient(s.admin, s.gw.adminUrl, 'audit-operator', 'operator');
    const now = (await s.admin.get<{ rules: unknown[]; upstreams: unknown }>('/api/rules')).body;
    const ruleSet = { upstreams: now.upstreams, http: now.rules };
    const changed = { ...ruleSet, http: (now.rules as { id: string }[]).map((r) => (r.id === 'patients-read' ? { ...r, mode: 'shadow' } : r)) };
    expect((await operator.put('/api/rules', { ruleSet: changed, reason: 'import denied', baseVersion: 1, kind: 'import' })).status).toBe(403);
    expect((await s.admin.put('/api/rules', { ruleSet: changed, reason: 'import stale', baseVersion: 0, kind: 'import' })).status).toBe(409);
    expect((await s.admin.put('/api/rules', { ruleSet: { upstreams: now.upstreams, http: [] }, reason: 'import invalid', baseVersion: 1, kind: 'import' })).status).toBe(422);
    expect((await s.admin.put('/api/rules', { ruleSet: changed, reason: 'import made', baseVersion: 1, kind: 'import' })).status).toBe(200);
    expect((await operator.put('/api/rules', { ruleSet, reason: 'apply denied', baseVersion: 2 })).status).toBe(403);

    const imports = (await s.admin.get<Entries>('/api/audit?action=rules.import')).body.entries;
    const byReason = Object.fromEntries(imports.map((e) => [e.reason, e]));
    expect(byReason['import denied']).toMatchObject({ target: 'rule-set', outcome: 'denied', status: 403 });
    expect(byReason['import stale']).toMatchObject({ target: 'rule-set', outcome: 'conflict', status: 409 });
    expect(byReason['import invalid']).toMatchObject({ target: 'rule-set', outcome: 'refused', status: 422 });
    expect(byReason['import made']).toMatchObject({ target: 'rule-set', outcome: 'ok', status: 200 });
    expect(imports).toHaveLength(4);
    const applies = (await s.admin.get<Entries>('/api/audit?action=rules.apply')).body.entries;
    expect(applies).toEqual([expect.objectContaining({ reason: 'apply denied', target: 'rule-set', outcome: 'denied' })]);
  });
});
