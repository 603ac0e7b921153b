/**
 * The comparison under `ficus reconcile`: canonical JSON (key order does not matter, array
 * order does), --ignore (names at any depth, dotted paths, through arrays), field paths of a
 * difference, the order-independent checksum, one entity's tally with its deterministic
 * samples, the pseudonyms that stand for MRNs, and the bounded concurrency.
 */
import { describe, expect, it } from 'vitest';
import { forEachBounded } from '../src/reconcile/bounded.js';
import { canonicalJson, ignoreSpec, isFieldPath, recordHash, withoutIgnored, type Json } from '../src/reconcile/canonical.js';
import { SideChecksum } from '../src/reconcile/checksum.js';
import { fieldDifferences } from '../src/reconcile/diff.js';
import { pseudonymiser } from '../src/reconcile/pseudonym.js';
import { EntityTally } from '../src/reconcile/tally.js';

const patient = (over: Record<string, Json> = {}): Record<string, Json> => ({
  mrn: '1000001',
  lastName: 'TESTER',
  firstName: 'ALEX',
  address: { line1: '1 MAIN ST', city: 'SPRINGFIELD', zip: '12345' },
  active: true,
  lastUpdated: '2026-01-02T03:04:05',
  ...over,
});

describe('canonical JSON', () => {
  it('ignores the order of object keys, at every depth, but not the order of arrays', () => {
    const a = { b: 1, a: { y: [1, 2], x: null } };
    const b = { a: { x: null, y: [1, 2] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,2]},"b":1}');
    expect(recordHash(a)).toBe(recordHash(b));
    expect(recordHash({ a: [1, 2] })).not.toBe(recordHash({ a: [2, 1] }));
  });

  it('keeps types apart: a number is not its string, null is not absent', () => {
    expect(recordHash({ v: 1 })).not.toBe(recordHash({ v: '1' }));
    expect(recordHash({ v: null })).not.toBe(recordHash({}));
    expect(canonicalJson({ s: 'a"b\u00e9' })).toBe(JSON.stringify({ s: 'a"b\u00e9' }));
  });
});

describe('--ignore', () => {
  it('removes a bare name at any depth and a dotted path only where it points', () => {
    const r = { lastUpdated: 't', ward: { code: 'W1', description: 'WARD', lastUpdated: 't' }, address: { zip: '1', city: 'C' }, zip: 'top' };
    expect(withoutIgnored(r, ignoreSpec(['lastUpdated', 'address.zip']))).toEqual({ ward: { code: 'W1', description: 'WARD' }, address: { city: 'C' }, zip: 'top' });
  });

  it('reaches into every element of an array, and leaves the record given unchanged', () => {
    const r = { items: [{ id: 1, value: 'a' }, { id: 2, value: 'b' }] };
    expect(withoutIgnored(r, ignoreSpec(['items.value']))).toEqual({ items: [{ id: 1 }, { id: 2 }] });
    expect(r.items[0]).toEqual({ id: 1, value: 'a' });
  });

  it('accepts field names and dotted paths only', () => {
    expect(['lastUpdated', 'address.zip', 'ward.code', '_x', 'a-b']).toSatisfy((xs: string[]) => xs.every(isFieldPath));
    for (const bad of ['', '.a', 'a.', 'a..b', 'a b', 'items[0]', '1abc']) expect(isFieldPath(bad), bad).toBe(false);
  });
});

describe('field differences', () => {
  it('names the differing fields by path, whatever the key order', () => {
    const a = patient();
    const b = { ...patient({ lastName: 'TESTOR' }), address: { zip: '54321', city: 'SPRINGFIELD', line1: '1 MAIN ST' } };
    expect(fieldDifferences(a, b)).toEqual([
      { path: 'lastName', legacy: 'TESTER', service: 'TESTOR' },
      { path: 'address.zip', legacy: '12345', service: '54321' },
    ]);
  });

  it('a field on one side only, array elements by index, and a type change', () => {
    expect(fieldDifferences({ a: 1, list: [1, 2, 3] }, { b: 1, list: [1, 3] })).toEqual([
      { path: 'a', legacy: 1, service: undefined },
      { path: 'list[1]', legacy: 2, service: 3 },
      { path: 'list[2]', legacy: 3, service: undefined },
      { path: 'b', legacy: undefined, service: 1 },
    ]);
    expect(fieldDifferences({ v: 1 }, { v: '1' })).toEqual([{ path: 'v', legacy: 1, service: '1' }]);
    expect(fieldDifferences({ v: { x: 1 } }, { v: null })).toEqual([{ path: 'v', legacy: { x: 1 }, service: null }]);
    expect(fieldDifferences(patient(), patient())).toEqual([]);
  });
});

describe('the checksum of a side', () => {
  it('does not depend on the order records arrive in', () => {
    const hashes = ['c', 'a', 'b'].map((s) => recordHash({ s }));
    const one = new SideChecksum();
    const two = new SideChecksum();
    for (const h of hashes) one.add(h);
    for (const h of [...hashes].reverse()) two.add(h);
    expect(one.digest()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(one.digest()).toBe(two.digest());
    expect(one.count).toBe(3);
  });

  it('changes with a record, and counts a repeated record twice', () => {
    const base = new SideChecksum();
    const other = new SideChecksum();
    const twice = new SideChecksum();
    base.add(recordHash({ a: 1 }));
    other.add(recordHash({ a: 2 }));
    twice.add(recordHash({ a: 1 }));
    twice.add(recordHash({ a: 1 }));
    expect(new Set([base.digest(), other.digest(), twice.digest()]).size).toBe(3);
  });
});

describe('an entity tally', () => {
  it('counts each side, what is on one side only, what differs and in which fields', () => {
    const t = new EntityTally('patients', ignoreSpec(['lastUpdated']), 10);
    t.add({ mrn: '1000001' }, patient(), patient({ lastUpdated: 'later' }));
    t.add({ mrn: '1000002' }, patient({ mrn: '1000002' }), patient({ mrn: '1000002', firstName: 'SAM' }));
    t.add({ mrn: '1000003' }, patient({ mrn: '1000003' }), undefined);
    t.add({ mrn: '1000004' }, undefined, patient({ mrn: '1000004' }));
    t.add({ mrn: '1000005' }, undefined, undefined);
    const f = t.figures();
    expect(f).toMatchObject({ entity: 'patients', onlyInLegacy: 1, onlyInService: 1, differing: 1, identical: 1, checksumsMatch: false, differingFields: { firstName: 1 } });
    expect(f.legacy.count).toBe(3);
    expect(f.service.count).toBe(3);
    expect(f.samples.map((s) => [s.kind, s.key.mrn, s.fields])).toEqual([
      ['differs', '1000002', ['firstName']],
      ['missing-in-service', '1000003', []],
      ['missing-in-legacy', '1000004', []],
    ]);
  });

  it('matches equal sides with equal checksums once the ignored fields are out', () => {
    const t = new EntityTally('patients', ignoreSpec(['lastUpdated']), 10);
    t.add({ mrn: '1000001' }, patient(), { ...patient({ lastUpdated: 'x' }) });
    expect(t.figures()).toMatchObject({ identical: 1, differing: 0, checksumsMatch: true, samples: [] });
    const strict = new EntityTally('patients', ignoreSpec([]), 10);
    strict.add({ mrn: '1000001' }, patient(), patient({ lastUpdated: 'x' }));
    expect(strict.figures()).toMatchObject({ identical: 0, differing: 1, checksumsMatch: false, differingFields: { lastUpdated: 1 } });
  });

  it('matches records of a patient by id, and keeps the first samples in record order whatever the arrival order', () => {
    const result = (id: number, value: string) => ({ resultId: id, value });
    const feed = (order: number[]) => {
      const t = new EntityTally('results', ignoreSpec([]), 2);
      for (const m of order) t.addAll(`${m}`.padStart(7, '1'), 'resultId', [result(2, 'b'), result(1, 'a')], [result(1, 'a'), result(2, 'B'), result(3, 'c')]);
      return t.figures();
    };
    const a = feed([9, 3, 5]);
    expect(a).toMatchObject({ legacy: { count: 6 }, service: { count: 9 }, identical: 3, differing: 3, onlyInService: 3, differingFields: { value: 3 } });
    expect(a.samples.map((s) => [s.kind, s.key])).toEqual([
      ['differs', { mrn: '1111113', id: '2' }],
      ['missing-in-legacy', { mrn: '1111113', id: '3' }],
    ]);
    expect(feed([5, 9, 3])).toEqual(a);
  });

  it('a record filed under another patient on one side (a merge that moved it there only) is one record differing in mrn, not one missing on each side', () => {
    const result = (mrn: string, id: number) => ({ resultId: id, mrn, value: '4.4' });
    const t = new EntityTally('results', ignoreSpec([]), 10);
    // the survivor first or the merged-away patient first: the pairing waits for both
    t.addAll('7710001', 'resultId', [result('7710001', 7), result('7710001', 8)], [result('7710001', 8)]);
    t.addAll('7710002', 'resultId', [], [result('7710002', 7)]);
    t.addAll('7710003', 'resultId', [result('7710003', 9)], []);
    const f = t.figures();
    expect(f).toMatchObject({ identical: 1, differing: 1, onlyInLegacy: 1, onlyInService: 0, differingFields: { mrn: 1 } });
    expect(f.legacy.count).toBe(3);
    expect(f.service.count).toBe(2);
    expect(f.samples.map((s) => [s.kind, s.key, s.values])).toEqual([
      ['differs', { mrn: '7710001', id: '7' }, [{ path: 'mrn', legacy: '7710001', service: '7710002' }]],
      ['missing-in-service', { mrn: '7710003', id: '9' }, []],
    ]);
    expect(t.figures()).toEqual(f);
  });

  it('keeps no samples with a sample size of 0, and still counts', () => {
    const t = new EntityTally('patients', ignoreSpec([]), 0);
    t.add({ mrn: '1000001' }, patient(), undefined);
    expect(t.figures()).toMatchObject({ onlyInLegacy: 1, samples: [] });
  });
});

describe('pseudonyms', () => {
  it('are stable, short, not the MRN, distinct per kind, and keyed when a key is set', () => {
    const plain = pseudonymiser(undefined);
    const keyed = pseudonymiser('a secret');
    expect(plain('mrn', '1000001')).toMatch(/^[0-9a-f]{12}$/);
    expect(plain('mrn', '1000001')).toBe(pseudonymiser(undefined)('mrn', '1000001'));
    expect(plain('mrn', '1000001')).not.toBe(plain('mrn', '1000002'));
    expect(plain('mrn', '1000001')).not.toBe(plain('id', '1000001'));
    expect(keyed('mrn', '1000001')).not.toBe(plain('mrn', '1000001'));
    expect(keyed('mrn', '1000001')).not.toBe(pseudonymiser('another')('mrn', '1000001'));
  });
});

describe('bounded concurrency', () => {
  it('never runs more than the limit at once, and runs every item', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachBounded(Array.from({ length: 40 }, (_, i) => i), 3, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 1 + (i % 4)));
      done.push(i);
      running--;
    });
    expect(most).toBe(3);
    expect(done.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('stops starting new work after a failure and throws it once the running work ended', async () => {
    let started = 0;
    let running = 0;
    const err = await forEachBounded(Array.from({ length: 50 }, (_, i) => i), 2, async (i) => {
      started++;
      running++;
      await new Promise((r) => setTimeout(r, 2));
      running--;
      if (i === 3) throw new Error('side down');
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('side down');
    expect(running).toBe(0);
    expect(started).toBeLessThan(10);
  });
});
