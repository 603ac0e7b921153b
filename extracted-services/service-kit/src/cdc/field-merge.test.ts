import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeFields, samePadded, sameValue } from './field-merge.js';

const FIELDS = ['lastName', 'firstName', 'phone', 'city'] as const;
type Row = Record<(typeof FIELDS)[number], string | null>;

const value = fc.constantFrom<string | null>('A', 'B', 'C', null);
const edit = fc.record({ lastName: value, firstName: value, phone: value, city: value }, { requiredKeys: [] });
const row = fc.record({ lastName: value, firstName: value, phone: value, city: value });

/**
 * One record edited on both sides within the write-back's delay: the service's write (its
 * outbox event, before → after) reaches the legacy by writing the fields it changed, either
 * before or after a legacy screen's edit; the legacy's edit reaches the service through CDC
 * (before image → after) and is merged. Answers both sides at the end.
 */
function race(base: Row, service: Partial<Row>, legacy: Partial<Row>, writeBackFirst: boolean) {
  const ours: Row = { ...base, ...service };
  const changedHere = FIELDS.filter((f) => !sameValue(base[f], ours[f]));
  const writeBack = (row: Row): Row => ({ ...row, ...Object.fromEntries(changedHere.map((f) => [f, ours[f]])) });
  let cdcBefore: Row;
  let cdcAfter: Row;
  let legacyEnd: Row;
  if (writeBackFirst) {
    cdcBefore = writeBack(base);
    cdcAfter = { ...cdcBefore, ...legacy };
    legacyEnd = cdcAfter;
  } else {
    cdcBefore = base;
    cdcAfter = { ...base, ...legacy };
    legacyEnd = writeBack(cdcAfter);
  }
  const m = mergeFields({ before: cdcBefore, after: cdcAfter, ours, pending: new Set(changedHere), fields: FIELDS });
  const serviceEnd: Row = { ...ours, ...Object.fromEntries(m.take.map((f) => [f, cdcAfter[f as keyof Row]])) };
  return { serviceEnd, legacyEnd, merge: m, changedHere };
}

describe('field-by-field merge of a legacy change into the service\'s own', () => {
  it('both sides end alike, whichever side wrote first', () => {
    fc.assert(
      fc.property(row, edit, edit, fc.boolean(), (base, service, legacy, writeBackFirst) => {
        const { serviceEnd, legacyEnd } = race(base, service, legacy, writeBackFirst);
        expect(serviceEnd).toEqual(legacyEnd);
      }),
      { numRuns: 2_000 },
    );
  });

  it('nothing either side changed alone is lost; a field both changed keeps the later informed value', () => {
    fc.assert(
      fc.property(row, edit, edit, fc.boolean(), (base, service, legacy, writeBackFirst) => {
        const { serviceEnd, merge, changedHere } = race(base, service, legacy, writeBackFirst);
        for (const f of FIELDS) {
          const here = changedHere.includes(f);
          const there = f in legacy && !sameValue(legacy[f], writeBackFirst && here ? service[f] : base[f]);
          if (here && !there) expect(serviceEnd[f]).toBe(service[f]);
          if (there && !here) expect(serviceEnd[f]).toBe(legacy[f]);
          // made on top of the service's value, the legacy's edit is the later one; made without it, the system of record's stands
          if (here && there) expect(serviceEnd[f]).toBe(writeBackFirst ? legacy[f] : service[f]);
        }
        for (const f of merge.conflicts) expect(changedHere).toContain(f);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the conflicts, and keeps a field pending until the legacy holds its value', () => {
    const base = { lastName: 'OLD', phone: '555-0100', city: 'X' };
    const m = mergeFields({
      before: base,
      after: { ...base, lastName: 'SCREEN', phone: '555-0199' },
      ours: { ...base, lastName: 'SERVICE', city: 'Y' },
      pending: new Set(['lastName', 'city']),
      fields: ['lastName', 'phone', 'city'],
    });
    expect(m).toEqual({ take: ['phone'], conflicts: ['lastName'], yielded: [], pending: ['lastName', 'city'] });
    // the legacy now holds the service's city (written back): no longer pending
    expect(mergeFields({ before: base, after: { ...base, city: 'Y' }, ours: { ...base, city: 'Y' }, pending: new Set(['city']), fields: ['city'] }).pending).toEqual([]);
  });

  it('while the legacy holds the record, fields not pending take the legacy\'s value, changed by this change or not; pending ones merge as above', () => {
    const base = { lastName: 'OLD', phone: '555-0100', city: 'X' };
    const m = mergeFields({
      before: base,
      after: { ...base, phone: '555-0199' },
      // the service's city drifted (a change it missed): the legacy's committed state is the truth
      ours: { ...base, lastName: 'FROMADT', city: 'DRIFT' },
      pending: new Set(['lastName']),
      fields: ['lastName', 'phone', 'city'],
      legacyHoldsRecord: true,
    });
    expect(m).toEqual({ take: ['phone', 'city'], conflicts: [], yielded: [], pending: ['lastName'] });
  });

  it('while the legacy holds the record, a pending field the legacy changed without the service\'s value takes the legacy\'s, and is pending no more', () => {
    // a PUT's phone (5001) not yet written back when a rollback gave the record to the legacy, whose screen saved 5002
    const base = { lastName: 'OLD', phone: '217-555-5000', city: 'X' };
    const ours = { ...base, phone: '217-555-5001', lastName: 'FROMADT' };
    const m = mergeFields({ before: base, after: { ...base, phone: '217-555-5002' }, ours, pending: new Set(['phone', 'lastName']), fields: ['lastName', 'phone', 'city'], legacyHoldsRecord: true });
    expect(m).toEqual({ take: ['phone'], conflicts: [], yielded: ['phone'], pending: ['lastName'] });
    // an edit made on top of the service's value (its write-back landed) is taken as before, yielding nothing
    const informed = mergeFields({ before: ours, after: { ...ours, phone: '217-555-5003' }, ours, pending: new Set(['phone']), fields: ['phone'], legacyHoldsRecord: true });
    expect(informed).toEqual({ take: ['phone'], conflicts: [], yielded: [], pending: [] });
  });

  it('a field the before image leaves out was not changed by the legacy (SQL Server: a large value an update did not touch)', () => {
    const before = { phone: '217-555-5001' };
    const after = { phone: '217-555-5002', notes: 'OLD NOTE' };
    const ours = { phone: '217-555-5001', notes: 'NEW NOTE' };
    expect(mergeFields({ before, after, ours, pending: new Set(['notes']), fields: ['phone', 'notes'] })).toEqual({ take: ['phone'], conflicts: [], yielded: [], pending: ['notes'] });
    // while the legacy holds the record the pending note is kept, not yielded to a value the legacy did not change
    expect(mergeFields({ before, after, ours, pending: new Set(['notes']), fields: ['phone', 'notes'], legacyHoldsRecord: true })).toEqual({ take: ['phone'], conflicts: [], yielded: [], pending: ['notes'] });
  });

  it('compares as text; trailing blanks count, except in telling whether the legacy saw the service\'s value (CHAR padding)', () => {
    expect(sameValue(7, '7')).toBe(true);
    expect(sameValue(null, undefined)).toBe(true);
    expect(sameValue('', null)).toBe(false);
    expect(sameValue('CHAMPAIGN  ', 'CHAMPAIGN')).toBe(false);
    expect(samePadded('I ', 'I')).toBe(true);
    expect(samePadded(' A', 'A')).toBe(false);
    // a legacy edit that only adds blanks to a VARCHAR is a change, and taken
    const city = { before: { city: 'CHAMPAIGN' }, after: { city: 'CHAMPAIGN  ' }, ours: { city: 'CHAMPAIGN' }, fields: ['city'] };
    expect(mergeFields({ ...city, pending: new Set(['city']) }).take).toEqual(['city']);
    // the service wrote 'I' to a CHAR(2) column, which holds 'I ': a later legacy edit was made on top of it
    const state = { before: { state: 'I ' }, after: { state: 'IL' }, ours: { state: 'I' }, fields: ['state'] };
    expect(mergeFields({ ...state, pending: new Set(['state']) })).toEqual({ take: ['state'], conflicts: [], yielded: [], pending: [] });
  });
});
