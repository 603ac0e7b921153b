import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeEcho as mergeEchoOf, type EchoInput } from './echo-merge.js';

/** a record's merged fields (a patient's, for the example) */
const FIELDS: readonly string[] = ['lastName', 'firstName', 'sex', 'city', 'phone', 'lastUpdated'];
type Row = Record<string, string | null>;
const mergeEcho = (i: Omit<EchoInput, 'fields'>) => mergeEchoOf({ ...i, fields: FIELDS });
const base: Row = Object.fromEntries(FIELDS.map((f) => [f, null]));
const row = (r: Row): Row => ({ ...base, lastName: 'SMITH', phone: '555-0100', lastUpdated: '2026-12-07T10:00:00', ...r });

describe('the echo of a write-back, the legacy holding the record', () => {
  it('the latest write-back\'s echo (it holds the latest change\'s fields as the service does) is applied whole', () => {
    const ours = row({ lastName: 'JONES', lastUpdated: '2026-12-07T10:00:02' });
    const m = mergeEcho({ before: row({}), after: ours, ours, pending: new Set(['lastName', 'lastUpdated']), latest: ['lastName', 'lastUpdated'] });
    expect(m).toEqual({ whole: true });
  });

  it('an older write-back\'s echo keeps the pending fields the service changed since and takes the legacy\'s others', () => {
    const ours = row({ lastName: 'SECOND', lastUpdated: '2026-12-07T10:00:02' });
    const after = row({ lastName: 'FIRST', city: 'SCREEN CITY', lastUpdated: '2026-12-07T10:00:01' });
    const m = mergeEcho({ before: row({}), after, ours, pending: new Set(['lastName', 'lastUpdated']), latest: ['lastName', 'lastUpdated'] });
    expect(m).toEqual({ whole: false, take: ['city'] });
  });

  it('a name changed and changed back: the first write-back\'s echo holds the name as the service does, and still is an older one (its stamp)', () => {
    const ours = row({ lastName: 'SMITH', lastUpdated: '2026-12-07T10:00:03' });
    const after = row({ lastName: 'SMITH', lastUpdated: '2026-12-07T10:00:01' });
    const m = mergeEcho({ before: row({}), after, ours, pending: new Set(['lastName', 'lastUpdated']), latest: ['lastName', 'lastUpdated'] });
    expect(m).toEqual({ whole: false, take: [] });
  });

  it('a stamp the legacy held already is stamped again by its trigger: still the latest', () => {
    const ours = row({ lastName: 'JONES', lastUpdated: '2026-12-07T10:00:02' });
    // a screen's save in the same second stamped the legacy's row 10:00:02 before the write-back wrote 10:00:02
    const before = row({ city: 'SCREEN CITY', lastUpdated: '2026-12-07T10:00:02' });
    const after = { ...before, lastName: 'JONES', lastUpdated: '2026-12-07T10:00:03' };
    expect(mergeEcho({ before, after, ours, pending: new Set(['lastName', 'lastUpdated']), latest: ['lastName', 'lastUpdated'] })).toEqual({ whole: true });
    // an insert's echo has no before: the stamp must match
    expect(mergeEcho({ before: null, after, ours, pending: new Set(['lastName', 'lastUpdated']), latest: ['lastName', 'lastUpdated'] })).toEqual({ whole: false, take: ['city'] });
  });

  it('a CHAR column\'s padding is no difference', () => {
    const ours = row({ sex: 'F' });
    expect(mergeEcho({ before: row({}), after: row({ sex: 'F ' }), ours, pending: new Set(['sex']), latest: ['sex'] })).toEqual({ whole: true });
  });

  it('only the fields given are taken, and the trigger\'s stamp may have another name', () => {
    const before = { id: '1', value: '5.9', range: '3.5-5.1', stamped: '10:00:02' };
    const ours = { id: '1', value: '4.2', range: '3.5-5.1', stamped: '10:00:02' };
    const restamped = { ...before, value: '4.2', stamped: '10:00:09' };
    const i = { before, ours, pending: new Set(['value', 'stamped']), latest: ['value', 'stamped'], fields: ['value', 'range', 'stamped'], stamp: 'stamped' };
    expect(mergeEchoOf({ ...i, after: restamped })).toEqual({ whole: true });
    expect(mergeEchoOf({ ...i, after: restamped, stamp: undefined })).toEqual({ whole: false, take: [] });
    expect(mergeEchoOf({ ...i, after: { ...before, id: '2', range: '3.4-5.3' } })).toEqual({ whole: false, take: ['range'] });
  });

  it('without the latest change\'s fields recorded (rows changed before they were), every pending field must be held', () => {
    const ours = row({ lastName: 'SECOND', phone: '555-0199' });
    const after = row({ lastName: 'SECOND' });
    expect(mergeEcho({ before: row({}), after, ours, pending: new Set(['lastName', 'phone']), latest: null })).toEqual({ whole: false, take: [] });
    expect(mergeEcho({ before: row({}), after: ours, ours, pending: new Set(['lastName', 'phone']), latest: null })).toEqual({ whole: true });
  });
});

/**
 * HL7 messages applied here, one after the other (each its own second), their write-backs
 * landing in the legacy in order, and the echoes read in order, interleaved at random: the
 * service shows its latest state at every moment, and the last echo leaves both sides alike
 * with nothing pending. Values from a small set, so that names change back and forth.
 */
describe('echoes interleaved with later messages (property)', () => {
  const EDITED = ['lastName', 'firstName', 'phone'] as const;
  const value = fc.constantFrom('A', 'B', 'C');
  const edit = fc.record({ lastName: value, firstName: value, phone: value }, { requiredKeys: [] });
  const step = fc.constantFrom('message', 'land', 'echo');

  it('never shows an older state, and ends alike', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), fc.array(step, { maxLength: 30 }), (edits, schedule) => {
        const start = row({ lastName: 'A', firstName: 'A', phone: 'A', lastUpdated: 't0' });
        let ours: Row = { ...start };
        let legacy: Row = { ...start };
        let pending = new Set<string>();
        let latest: string[] | null = null;
        const writeBacks: { before: Row; after: Row }[] = [];
        const echoes: { before: Row; after: Row }[] = [];
        let sent = 0;
        const message = () => {
          const e = edits[sent++]!;
          const next: Row = { ...ours, ...e, lastUpdated: `t${sent}` };
          const changed = FIELDS.filter((f) => next[f] !== ours[f]);
          if (EDITED.every((f) => next[f] === ours[f])) return; // a message that changes nothing is no local change
          writeBacks.push({ before: ours, after: next });
          pending = new Set([...pending, ...changed]);
          latest = changed;
          ours = next;
        };
        const land = () => {
          const w = writeBacks.shift()!;
          const before = legacy;
          // the writer sets the fields the service changed
          legacy = { ...legacy, ...Object.fromEntries(FIELDS.filter((f) => w.before[f] !== w.after[f]).map((f) => [f, w.after[f]!])) };
          echoes.push({ before, after: legacy });
        };
        const echo = () => {
          const e = echoes.shift()!;
          const input = { before: e.before, after: e.after, ours, pending, latest };
          const m = pending.size === 0 ? { whole: true as const } : mergeEcho(input);
          if (m.whole) {
            ours = { ...e.after };
            pending = new Set();
          } else {
            ours = { ...ours, ...Object.fromEntries(m.take.map((f) => [f, e.after[f]!])) };
          }
        };
        for (const s of schedule) {
          if (s === 'message' && sent < edits.length) message();
          else if (s === 'land' && writeBacks.length > 0) land();
          else if (s === 'echo' && echoes.length > 0) echo();
          expect(EDITED.map((f) => ours[f])).toEqual(EDITED.map((f) => latestState(start, edits.slice(0, sent))[f]));
        }
        while (sent < edits.length) message();
        while (writeBacks.length > 0) land();
        while (echoes.length > 0) echo();
        expect(ours).toEqual(legacy);
        expect(pending.size).toBe(0);
      }),
      { numRuns: 2_000 },
    );
  });

  /** the service's row after the messages (its data fields) */
  function latestState(start: Row, edits: Partial<Record<(typeof EDITED)[number], string>>[]): Row {
    return edits.reduce<Row>((r, e) => ({ ...r, ...e }), start);
  }
});
