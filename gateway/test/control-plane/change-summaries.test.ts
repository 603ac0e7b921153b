/**
 * What a change's summary says when it moves no routing: an import that only adds a parity
 * section was summarised "patients-read: legacy → legacy", as if a mode had moved; it names the
 * parity gate now.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSeededScene, type SeededScene } from '../support/store-gateway.js';

let s: SeededScene;

beforeAll(async () => {
  s = await startSeededScene({ databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), name: 'change_summaries' });
});
afterAll(async () => {
  await s?.close();
});

describe('the summary of an import', () => {
  it('names a parity gate added (with the target it compares against), and no mode move', async () => {
    const now = (await s.admin.get<{ version: number; rules: { id: string }[]; upstreams: unknown }>('/api/rules')).body;
    // a rule in legacy written without a target, as rule files often have it
    const untargeted = now.rules.map((r) => (r.id === 'patients-read' ? Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'target' && k !== 'sticky')) : r));
    const first = await s.admin.put<{ version: number; change: { summary: string } }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: untargeted }, reason: 'as written', baseVersion: now.version, kind: 'import' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.change.summary).toBe('changed patients-read');

    // the parity section needs the target it compares against: both come in one import
    const http = now.rules.map((r) => (r.id === 'patients-read' ? { ...r, parity: { threshold: 0.99, minCompared: 100, window: '1h' } } : r));
    const r = await s.admin.put<{ change: { summary: string } }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http }, reason: 'gate it', baseVersion: first.body.version, kind: 'import' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.change.summary).toBe('changed patients-read (patients-read: parity gate added (threshold 0.99, minCompared 100, window 1h))');
  });

  it('reads a gate by its fields, not their order: the same gate written in another order is no change, a changed one is named field by field in one order', async () => {
    const now = (await s.admin.get<{ version: number; rules: { id: string; parity?: object }[]; upstreams: unknown }>('/api/rules')).body;
    const gated = (parity: object) => now.rules.map((r) => (r.id === 'patients-read' ? { ...r, parity } : r));
    const put = (parity: object, baseVersion: number) =>
      s.admin.put<{ version: number; changed?: boolean; change?: { summary: string } }>('/api/rules', { ruleSet: { upstreams: now.upstreams, http: gated(parity) }, reason: 'gate', baseVersion, kind: 'import' });
    const first = await put({ threshold: 0.99, minCompared: 100, minKeys: 20, window: '1h' }, now.version);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // as another editor (or a YAML round trip) writes the same gate
    const same = await put({ window: '1h', minKeys: 20, minCompared: 100, threshold: 0.99 }, first.body.version);
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(same.body.change?.summary ?? '').not.toContain('parity gate');
    const changed = await put({ window: '1h', gateAbovePercent: 10, minKeys: 20, threshold: 0.99, minCompared: 100 }, same.body.version);
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.change!.summary).toBe(
      'changed patients-read (patients-read: parity gate threshold 0.99, minCompared 100, minKeys 20, window 1h → threshold 0.99, minCompared 100, minKeys 20, window 1h, gateAbovePercent 10)',
    );
  });
});
