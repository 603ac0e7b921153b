import { describe, expect, it } from 'vitest';
import { changeEventProblem, keyText, lastChangePerKey, netChangePerKey, type ChangeEvent } from './change-event.js';
import { partitionOf } from './partition.js';

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

  it('fills a CDC before image\'s missing field (SQL Server: a large value the first update did not touch) from that update\'s after; an outbox\'s stays missing', () => {
    const a = { ...change('update', '5', { phone: 'p0' }, { phone: 'p1', notes: 'n0' }), source: { ...change('update', '5', null, null).source, system: 'mssql' as const } };
    const b = { ...change('update', '5', { phone: 'p1', notes: 'n0' }, { phone: 'p1', notes: 'n1' }), source: { ...a.source, position: String(++n).padStart(8, '0') } };
    expect(netChangePerKey([a, b])).toEqual([{ ...b, before: { phone: 'p0', notes: 'n0' } }]);
    const oa = { ...a, source: { ...a.source, system: 'outbox' as const } };
    const ob = { ...b, source: { ...b.source, system: 'outbox' as const } };
    expect(netChangePerKey([oa, ob])).toEqual([{ ...ob, before: { phone: 'p0' } }]);
  });
});

describe('keyText', () => {
  it('is one text for a row whatever the JSON type of its key values (a column altered from integer to bigint)', () => {
    // int4 arrives as a number, int8 as a string: the same row
    expect(keyText({ admissionId: 1 })).toBe(keyText({ admissionId: '1' }));
    expect(keyText({ admissionId: 1 })).toBe('[["admissionId","1"]]');
    expect(partitionOf(keyText({ admissionId: 7 }), 8)).toBe(partitionOf(keyText({ admissionId: '7' }), 8));
    // columns sorted; strings as they were, so text keys kept their partitions and positions
    expect(keyText({ b: 2, a: 'x' })).toBe('[["a","x"],["b","2"]]');
    expect(keyText({ mrn: '100003' })).toBe('[["mrn","100003"]]');
    expect(keyText({ id: null })).toBe('[["id",null]]');
  });

  it('folds a row\'s changes from before and after the type change as one key', () => {
    const before = { ...change('update', '1', null, { bed: 'OLD' }), key: { admissionId: 1 } };
    const after = { ...change('update', '1', null, { bed: 'NEW' }), key: { admissionId: '1' } };
    expect(lastChangePerKey([before, after])).toEqual([after]);
  });
});

describe('a key change in the envelope', () => {
  const moved = (op: ChangeEvent['op'], extra: Partial<ChangeEvent>) => ({ ...change(op, '100301', op === 'create' ? null : { mrn: '100301' }, op === 'delete' ? null : { mrn: '100301' }), ...extra });

  it('is a delete naming where the row went, or a create naming where it came from, of the key\'s columns', () => {
    expect(changeEventProblem(moved('delete', { movedTo: { mrn: '900301' } }))).toBeUndefined();
    expect(changeEventProblem(moved('create', { movedFrom: { mrn: '100301' } }))).toBeUndefined();
    expect(changeEventProblem(moved('update', {}))).toBeUndefined();
  });

  it('is refused on another op, with other columns, or not an object', () => {
    expect(changeEventProblem(moved('update', { movedTo: { mrn: '900301' } }))).toBe('/movedTo: only a delete moves to another key, not a update');
    expect(changeEventProblem(moved('delete', { movedFrom: { mrn: '900301' } }))).toBe('/movedFrom: only a create moves from another key, not a delete');
    expect(changeEventProblem(moved('delete', { movedTo: { patientId: '900301' } }))).toBe("/movedTo: not of the key's columns");
    expect(changeEventProblem(moved('delete', { movedTo: '900301' as unknown as Record<string, unknown> }))).toMatch(/^\/movedTo: must be object$/);
  });
});
