/**
 * The control plane refuses a change that drops routing serving now (no HTTP rules, no HL7
 * rules, no catch-all) with the reason and how an admin may allow it; an allowed one is on the
 * version and in the audit log. Whatever is refused, the gateway keeps routing as before.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { roleClient, startSeededScene, type AdminClient, type SeededScene, type StoreGateway } from '../support/store-gateway.js';

let scene: SeededScene;
let gw: StoreGateway;
let admin: AdminClient;

beforeAll(async () => {
  scene = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'routing_guard' });
  ({ gw, admin } = scene);
});
afterAll(() => scene?.close());

type Rules = { version: number; rules: Record<string, unknown>[]; hl7: Record<string, unknown>[]; upstreams: Record<string, unknown> };
type Refusal = { type: string; detail: string; errors: { reason: string; pointer: string; ruleId?: string }[] };
const current = async () => (await admin.get<Rules>('/api/rules')).body;
const HINT = 'an admin may apply it anyway with "allowRemoval": true (`ficus rules import --allow-removal`, `ficus rules rollback --allow-removal`), audited';
const HL7 = [
  { id: 'adt', match: { messageTypes: ['ADT'] }, mode: 'legacy' },
  { id: 'hl7-default', match: {}, mode: 'legacy' },
];

async function stillRouting(): Promise<void> {
  expect((await fetch(gw.url + '/api/patients/100001')).headers.get('x-ficus-route')).toBe('patients-read; legacy');
  expect((await fetch(gw.url + '/api/results/7')).headers.get('x-ficus-route')).toBe('legacy-default; legacy');
}

describe('the routing guard of the control plane', () => {
  it('refuses an apply that leaves no HTTP rules, or removes the catch-all; validate says the same', async () => {
    const v1 = await current();
    const noHttp = await admin.put<Refusal>('/api/rules', { ruleSet: { upstreams: v1.upstreams, http: [] }, reason: 'lost file', baseVersion: v1.version, kind: 'import' });
    expect(noHttp.status).toBe(422);
    expect(noHttp.body.errors).toEqual([{ pointer: '/http', reason: `the change leaves no HTTP rules (3 serve now): every request would get 404; ${HINT}` }]);

    const noCatchAll = { upstreams: v1.upstreams, http: v1.rules.filter((r) => r.id !== 'legacy-default') };
    for (const [method, path, body] of [
      ['PUT', '/api/rules', { ruleSet: noCatchAll, reason: 'half a file', baseVersion: v1.version }],
      ['POST', '/api/rules/validate', { ruleSet: noCatchAll }],
    ] as const) {
      const r = await admin.call<Refusal>(method, path, body);
      expect(r.status, path).toBe(422);
      expect(r.body.detail).toBe(`rule "legacy-default": the change removes the catch-all ("/**" for every method) that serves now: requests no other rule takes would get 404; ${HINT}`);
    }
    expect((await current()).version).toBe(v1.version);
    await stillRouting();
  });

  it('refuses an apply, or a rollback, that leaves no HL7 rules while some serve; an operator may not allow it', async () => {
    const v1 = await current();
    const withHl7 = await admin.put<{ version: number }>('/api/rules', {
      ruleSet: { upstreams: { ...v1.upstreams, 'legacy-hl7': { url: 'mllp://127.0.0.1:2575' } }, http: v1.rules, hl7: HL7 },
      reason: 'route HL7',
      baseVersion: v1.version,
    });
    expect(withHl7.status).toBe(200);
    const v2 = await current();

    const dropped = await admin.put<Refusal>('/api/rules', { ruleSet: { upstreams: v2.upstreams, http: v2.rules }, reason: 'lost 20-hl7.yaml', baseVersion: v2.version, kind: 'import' });
    expect(dropped.status).toBe(422);
    expect(dropped.body.errors).toEqual([{ pointer: '/hl7', reason: `the change leaves no HL7 rules (2 serve now): every HL7 message would be refused (AR), and senders treat AR as final; ${HINT}` }]);

    // version 1 had no HL7 rules: going back to it drops them as well
    const back = await admin.post<Refusal>('/api/rollback', { version: v1.version, reason: 'undo', baseVersion: v2.version });
    expect(back.status).toBe(422);
    expect(back.body.errors[0]?.pointer).toBe('/hl7');
    const operator = await roleClient(admin, gw.adminUrl, 'night-operator', 'operator');
    const denied = await operator.post<{ detail: string }>('/api/rollback', { version: v1.version, reason: 'undo', baseVersion: v2.version, allowRemoval: true });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toContain('"allowRemoval") needs the role "admin"');
    expect((await current()).version).toBe(v2.version);
    await stillRouting();
  });

  it('applies such a change when an admin allows it, and records what it dropped on the version and in the audit log', async () => {
    const v2 = await current();
    const r = await admin.put<{ version: number; change: { summary: string; removedRouting: string[] }; warnings: { reason: string }[] }>('/api/rules', {
      ruleSet: { upstreams: v2.upstreams, http: v2.rules },
      reason: 'HL7 moves to the new interface engine',
      baseVersion: v2.version,
      kind: 'import',
      allowRemoval: true,
    });
    expect(r.status).toBe(200);
    const dropped = 'the change leaves no HL7 rules (2 serve now): every HL7 message would be refused (AR), and senders treat AR as final';
    expect(r.body.change.removedRouting).toEqual([dropped]);
    expect(r.body.change.summary).toContain(`(routing removed, allowed by an admin: ${dropped})`);
    expect(r.body.warnings.map((w) => w.reason)).toContain(dropped);
    const audit = await admin.get<{ entries: { reason: string; outcome: string; detail: { change: { removedRouting?: string[] } } }[] }>('/api/audit?action=rules.import');
    const entry = audit.body.entries.find((e) => e.reason === 'HL7 moves to the new interface engine');
    expect(entry).toMatchObject({ outcome: 'ok', detail: { change: { removedRouting: [dropped] } } });
    expect((await current()).hl7).toEqual([]);
  });
});
