/**
 * Versions: optimistic concurrency, rollback to exactly the earlier behaviour, diffs, and
 * invalid rule sets refused with rule id, field and reason while nothing changes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSeededScene, type AdminClient, type SeededScene, type StoreGateway } from '../support/store-gateway.js';
import { describeRule } from '@ficus/contracts';

let scene: SeededScene;
let gw: StoreGateway;
let admin: AdminClient;

beforeAll(async () => {
  scene = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'admin_versions' });
  ({ gw, admin } = scene);
});
afterAll(() => scene?.close());

const current = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;

/** which side answers each of 200 patients, through the gateway, once the gateway serves `version` */
async function behaviour(version: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const ready = (await (await fetch(gw.url + '/readyz')).json()) as { rules: { version: number } };
    if (ready.rules.version === version) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const routes: string[] = [];
  for (let m = 100_000; m < 100_200; m++) routes.push((await fetch(`${gw.url}/api/patients/${m}`)).headers.get('x-ficus-route') ?? '');
  return routes;
}

describe('versions', () => {
  it('two admins flipping from the same version: one wins, the other gets 409 with the current version', async () => {
    const base = await current();
    const [a, b] = await Promise.all([
      admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 10, reason: 'admin A', baseVersion: base }),
      admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 90, reason: 'admin B', baseVersion: base }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.body).toMatchObject({ baseVersion: base, currentVersion: base + 1 });
    expect(await current()).toBe(base + 1);
    const conflicts = await admin.get<{ entries: unknown[] }>('/api/audit?outcome=conflict');
    expect(conflicts.body.entries).toHaveLength(1);
  });

  it('takes a canary percent with two decimals (33.33 and 4.35 are not exact in binary floating point)', async () => {
    for (const percent of [33.33, 0.29, 4.35]) {
      const res = await admin.post<{ rule: { percent: number } }>('/api/rules/patients-read/flip', { mode: 'canary', percent, reason: `pilot at ${percent} %`, baseVersion: await current() });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.rule.percent).toBe(percent);
    }
    await admin.post('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'back', baseVersion: await current() });
  });

  it('rollback restores exactly the earlier behaviour, and the diff shows what changed', async () => {
    const v1 = await current();
    await admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 30, reason: 'before', baseVersion: v1 });
    const before = await behaviour(v1 + 1);
    expect(new Set(before)).toEqual(new Set(['patients-read; legacy', 'patients-read; patient-service']));

    await admin.post('/api/rules/patients-read/flip', { mode: 'new', reason: 'all in', baseVersion: v1 + 1 });
    const after = await behaviour(v1 + 2);
    expect(new Set(after)).toEqual(new Set(['patients-read; patient-service']));

    const rb = await admin.post<{ version: number; change: { kind: string; rollbackTo: number } }>('/api/rollback', { version: v1 + 1, reason: 'pharmacy saw stale data', baseVersion: v1 + 2 });
    expect(rb.status).toBe(200);
    expect(rb.body).toMatchObject({ version: v1 + 3, change: { kind: 'rollback', rollbackTo: v1 + 1 } });
    expect(await behaviour(v1 + 3)).toEqual(before);

    const diff = await admin.get<{ diff: { rules: { changed: { id: string; changes: unknown[] }[] }; identical: boolean } }>(`/api/versions/${v1 + 1}/diff/${v1 + 2}`);
    // the canary's percent goes with it (rule-changes.ts)
    expect(diff.body.diff.rules.changed).toEqual([{ id: 'patients-read', changes: [{ field: 'mode', from: 'canary', to: 'new' }, { field: 'percent', from: 30 }] }]);
    const same = await admin.get<{ diff: { identical: boolean } }>(`/api/versions/${v1 + 1}/diff/${v1 + 3}`);
    expect(same.body.diff.identical).toBe(true);

    const history = await admin.get<{ current: number; versions: { version: number; author: string; reason: string; change: { summary: string } }[] }>('/api/versions');
    expect(history.body.current).toBe(v1 + 3);
    expect(history.body.versions[0]).toMatchObject({ version: v1 + 3, author: 'token:first-admin', reason: 'pharmacy saw stale data', change: { summary: `rollback to version ${v1 + 1}: patients-read: new (patient-service) → canary 30 % to patient-service` } });
    expect(history.body.versions.at(-1)).toMatchObject({ version: 1, author: 'seed' });
  });

  it('refuses an invalid rule set on PUT and validate with rule id, field and reason, and changes nothing', async () => {
    const base = await current();
    const rules = (await admin.get<{ rules: Record<string, unknown>[]; upstreams: Record<string, unknown> }>('/api/rules')).body;
    const broken = {
      upstreams: rules.upstreams,
      http: [{ ...rules.rules[0], mode: 'canary', percent: 140 }, { ...rules.rules[1], target: 'no-such-service' }, ...rules.rules.slice(2)],
    };
    for (const [method, path, body] of [
      ['PUT', '/api/rules', { ruleSet: broken, reason: 'bad apply', baseVersion: base }],
      ['POST', '/api/rules/validate', { ruleSet: broken }],
    ] as const) {
      const r = await admin.call<{ errors: { ruleId: string; field: string; reason: string }[]; detail: string }>(method, path, body);
      expect(r.status, path).toBe(422);
      expect(r.body.errors).toEqual([
        { ruleId: 'patients-read', field: 'percent', reason: 'must be <= 100', pointer: '/http/0/percent' },
      ]);
      expect(r.body.detail).toBe('rule "patients-read", field "percent": must be <= 100');
    }
    // semantic errors once the schema passes
    const semantic = { upstreams: rules.upstreams, http: [{ ...rules.rules[1], target: 'no-such-service' }, ...rules.rules.slice(2)] };
    const r = await admin.put<{ errors: { ruleId: string; field: string; reason: string }[] }>('/api/rules', { ruleSet: semantic, reason: 'bad target', baseVersion: base });
    expect(r.status).toBe(422);
    expect(r.body.errors[0]).toMatchObject({ ruleId: 'patients-write', field: 'target', reason: 'unknown upstream "no-such-service" (declared: legacy, patient-service)' });
    // a flip to an impossible state is refused the same way
    const f = await admin.post<{ errors: { ruleId: string; field?: string; reason: string }[] }>('/api/rules/legacy-default/flip', { mode: 'new', reason: 'no target', baseVersion: base });
    expect(f.status).toBe(422);
    expect(f.body.errors[0]).toMatchObject({ ruleId: 'legacy-default', reason: 'mode "new" needs a "target" (the new service)' });

    expect(await current()).toBe(base);
    const refused = await admin.get<{ entries: { action: string; outcome: string }[] }>('/api/audit?outcome=refused');
    expect(refused.body.entries.map((e) => e.action).sort()).toEqual(['rules.apply', 'rules.apply', 'rules.flip']);
  });

  it('a canary of a write rule is allowed but answered with a warning; a read rule\'s is not', async () => {
    const base = await current();
    const write = await admin.post<{ version: number; warnings?: { ruleId: string; field: string; reason: string }[] }>('/api/rules/patients-write/flip', {
      mode: 'canary',
      percent: 10,
      reason: 'writes pilot',
      baseVersion: base,
    });
    expect(write.status).toBe(200);
    expect(write.body.version).toBe(base + 1);
    expect(write.body.warnings).toEqual([
      expect.objectContaining({ ruleId: 'patients-write', field: 'mode', reason: expect.stringMatching(/^POST, PUT requests go to "patient-service" for 10 % of keys: .*refuses them \(503\)/) }),
    ]);
    const back = await admin.post<{ version: number; warnings?: unknown[] }>('/api/rules/patients-write/flip', { mode: 'legacy', reason: 'writes move at once', baseVersion: base + 1 });
    expect(back.status).toBe(200);
    expect(back.body.warnings).toBeUndefined();
    const read = await admin.post<{ warnings?: unknown[] }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 10, reason: 'reads pilot', baseVersion: base + 2 });
    expect(read.status).toBe(200);
    expect(read.body.warnings).toBeUndefined();
  });

  it('a rollback names the rules it puts back and takes away, not only the modes it moves', async () => {
    const base = await current();
    const files = (await admin.get<{ rules: { id: string }[]; upstreams: unknown }>('/api/rules')).body;
    const extra = { id: 'reports-read', match: { methods: ['GET'], path: '/api/reports/:id' }, mode: 'legacy', target: 'patient-service' };
    const withExtra = [...files.rules.slice(0, -1), extra, files.rules.at(-1)];
    const added = await admin.put<{ version: number }>('/api/rules', { ruleSet: { upstreams: files.upstreams, http: withExtra }, reason: 'reports route', baseVersion: base });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const back = await admin.post<{ change: { summary: string } }>('/api/rollback', { version: base, reason: 'not yet', baseVersion: base + 1 });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body.change.summary).toBe(`rollback to version ${base}: removed reports-read`);
    const again = await admin.post<{ change: { summary: string } }>('/api/rollback', { version: base + 1, reason: 'now', baseVersion: base + 2 });
    expect(again.body.change.summary).toBe(`rollback to version ${base + 1}: added reports-read`);
  });

  it('an identical rule set makes no new version', async () => {
    const base = await current();
    const rules = (await admin.get<{ rules: unknown[]; upstreams: unknown }>('/api/rules')).body;
    const r = await admin.put<{ version: number; changed: boolean }>('/api/rules', { ruleSet: { upstreams: rules.upstreams, http: rules.rules }, reason: 're-apply', baseVersion: base });
    expect(r.body).toMatchObject({ version: base, changed: false });
    expect(await current()).toBe(base);
  });

  it('an import that puts a live flip back says which rules it moves', async () => {
    const base = await current();
    const files = (await admin.get<{ rules: { id: string; mode: string; percent?: number; target?: string }[]; upstreams: unknown }>('/api/rules')).body;
    const was = describeRule(files.rules.find((r) => r.id === 'patients-read')!);
    await admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 20, reason: 'pilot', baseVersion: base });
    // the files as they were before the flip, imported again (an edit elsewhere in them)
    const r = await admin.put<{ change: { summary: string } }>('/api/rules', { ruleSet: { upstreams: files.upstreams, http: files.rules }, reason: 're-import', baseVersion: base + 1, kind: 'import' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.change.summary).toBe(`changed patients-read (patients-read: canary 20 % to patient-service → ${was})`);
  });

  it('a flip to what the rule already does makes no new version, says so, and is audited', async () => {
    const base = await current();
    const moved = await admin.post<{ version: number; changed: boolean; change: { summary: string } }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 40, reason: 'pilot', baseVersion: base });
    expect(moved.body).toMatchObject({ version: base + 1, changed: true, change: { summary: expect.stringContaining('canary 40 %') } });

    const again = await admin.post<{ version: number; changed: boolean; change?: unknown; rule: { mode: string; percent: number } }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 40, reason: 'pilot, clicked twice', baseVersion: base + 1 });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ version: base + 1, changed: false, rule: { mode: 'canary', percent: 40 } });
    expect(again.body.change).toBeUndefined();
    expect(await current()).toBe(base + 1);
    const audit = await admin.get<{ entries: { action: string; reason: string; version: number; detail: { changed?: boolean } }[] }>('/api/audit?limit=5');
    expect(audit.body.entries.find((e) => e.reason === 'pilot, clicked twice')).toMatchObject({ action: 'rules.flip', version: base + 1, detail: { changed: false } });

    // a different percent is a change; the same one from a stale version is refused as any stale change
    const stale = await admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 40, reason: 'late', baseVersion: base });
    expect(stale.status).toBe(409);
    const raised = await admin.post<{ version: number; changed: boolean }>('/api/rules/patients-read/flip', { mode: 'canary', percent: 50, reason: 'wider', baseVersion: base + 1 });
    expect(raised.body).toMatchObject({ version: base + 2, changed: true });
  });

  it('a percent goes with canary: refused on another mode, dropped when the rule leaves canary, and a flip back to canary must give one', async () => {
    const base = await current();
    const refused = await admin.post<{ detail: string }>('/api/rules/patients-read/flip', { mode: 'legacy', percent: 30, reason: 'typo', baseVersion: base });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toContain('a percent is for mode canary only');
    await admin.post('/api/rules/patients-read/flip', { mode: 'canary', percent: 30, reason: 'pilot', baseVersion: base });
    const back = await admin.post<{ rule: Record<string, unknown> }>('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'back', baseVersion: base + 1 });
    expect(back.body.rule.mode).toBe('legacy');
    expect(back.body.rule).not.toHaveProperty('percent');
    const again = await admin.post<{ detail: string }>('/api/rules/patients-read/flip', { mode: 'canary', reason: 'pilot again', baseVersion: base + 2 });
    expect(again.status).toBe(422);
    expect(again.body.detail).toContain('a flip to canary needs a percent');
    expect(await current()).toBe(base + 2);
  });
});
