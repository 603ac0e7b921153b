import { describe, expect, it } from 'vitest';
import { pairEarlyCopies, type ResultRow } from './early-partners.js';

const K = '["100001","ORD1","600-7"]';
const row = (id: string, content: string, key = K): ResultRow => ({ id, key, content });
const pairs = (arrivals: ResultRow[], early: ResultRow[]) => pairEarlyCopies(arrivals, early).map((p) => [p.arrival.id, p.early.id]);

describe('which early copy a legacy row is (one to one)', () => {
  it('two twins arriving together: each takes the copy holding its result, never both the same', () => {
    expect(pairs([row('53343', 'E.COLI'), row('53344', 'KLEBSIELLA')], [row('1000000000001', 'E.COLI'), row('1000000000002', 'KLEBSIELLA')])).toEqual([
      ['53343', '1000000000001'],
      ['53344', '1000000000002'],
    ]);
  });

  it('the second twin first, alone: it takes its own copy and leaves the first twin its one', () => {
    expect(pairs([row('53344', 'KLEBSIELLA')], [row('1000000000001', 'E.COLI'), row('1000000000002', 'KLEBSIELLA')])).toEqual([['53344', '1000000000002']]);
  });

  it('nothing alike (the copies moved on since): the n-th legacy row takes the n-th copy, oldest first', () => {
    expect(pairs([row('9', 'B'), row('10', 'A'), row('8', 'C')], [row('1000000000012', 'X'), row('1000000000011', 'Y'), row('1000000000013', 'Z')])).toEqual([
      ['8', '1000000000011'],
      ['9', '1000000000012'],
      ['10', '1000000000013'],
    ]);
  });

  it('identical twins: by rank; more legacy rows than copies: the rest have none (inserted); fewer: copies wait', () => {
    expect(pairs([row('1', 'A'), row('2', 'A'), row('3', 'A')], [row('1000000000001', 'A'), row('1000000000002', 'A')])).toEqual([
      ['1', '1000000000001'],
      ['2', '1000000000002'],
    ]);
    expect(pairs([row('3', 'Z')], [row('1000000000001', 'A'), row('1000000000002', 'B')])).toEqual([['3', '1000000000001']]);
  });

  it('only copies of the same patient, order and test', () => {
    const other = '["100001","ORD1","600-8"]';
    expect(pairs([row('1', 'A'), row('2', 'A', other)], [row('1000000000001', 'A', other)])).toEqual([['2', '1000000000001']]);
  });
});
