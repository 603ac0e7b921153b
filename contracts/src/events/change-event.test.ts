import { describe, expect, it } from 'vitest';
import { lastChangePerKey, netChangePerKey, type ChangeEvent } from './change-event.js';

let n = 0;
const change = (op: ChangeEvent['op'], mrn: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null): ChangeEvent => ({
  schemaVersion: 1,
  topic: 'patients',
  op,
  key: { mrn },
  before,
  after,
  source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'patient_master', position: String(++n).padStart(8, '0'), txId: null, commitTime: null, origin: null },
});

describe('netChangePerKey', () => {
  it('spans a key\'s updates: the first before, the last after and position', () => {
    const a = change('update', '1', { phone: 'p0', city: 'c0' }, { phone: 'p1', city: 'c0' });
    const other = change('update', '2', { phone: 'x' }, { phone: 'y' });
    const b = change('update', '1', { phone: 'p1', city: 'c0' }, { phone: 'p1', city: 'c1' });
    const [first, second] = netChangePerKey([a, other, b]);
    expect(second).toEqual({ ...b, before: a.before });
    expect(first).toBe(other);
    // the whole-row view is unchanged
    expect(lastChangePerKey([a, other, b])).toEqual([other, b]);
  });

  it('keeps the last change as it is where the key\'s changes are not all updates with a before image', () => {
    const created = change('create', '3', null, { phone: 'p0' });
    const updated = change('update', '3', { phone: 'p0' }, { phone: 'p1' });
    expect(netChangePerKey([created, updated])).toEqual([updated]);
    const blind = change('update', '4', null, { phone: 'p0' });
    const seen = change('update', '4', { phone: 'p0' }, { phone: 'p1' });
    expect(netChangePerKey([blind, seen])).toEqual([seen]);
    const deleted = change('delete', '4', { phone: 'p1' }, null);
    expect(netChangePerKey([seen, deleted])).toEqual([deleted]);
  });
});
