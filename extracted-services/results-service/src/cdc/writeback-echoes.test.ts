import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { WRITEBACK_ORIGIN } from '@ficus/service-kit';
import type { LocalChanges } from '../results/local-changes.js';
import { changedFields, RESULT_VERSIONED_FIELDS, type ResultTopicRow } from '../results/result-topic.js';
import { resultEchoMerge } from './writeback-echoes.js';

type Row = Record<string, string | number | null>;
const FILED_AT = '2026-12-08T10:00:01';
const filed: Row = {
  resultId: '1000000000001',
  mrn: '100001',
  admissionId: 7,
  orderNumber: 'L74600001',
  testCode: '2823-3',
  testName: 'POTASSIUM',
  value: '5.9',
  units: 'mmol/L',
  referenceRange: '3.5-5.1',
  abnormalFlag: 'H',
  status: 'P',
  collectedDate: '2024-07-02T07:15:00',
  resultDate: '2024-07-02T09:15:00',
  lastUpdated: FILED_AT,
};
const preliminary = (r: Row = {}): Row => ({ ...filed, ...r });
const final = (r: Row = {}): Row => preliminary({ value: '4.2', abnormalFlag: null, status: 'F', lastUpdated: '2026-12-08T10:00:02', ...r });

/** the service's row after a local change from `was` to `now` (the first one after the result was filed by an ORU and written back whole) */
function ours(was: Row, now: Row, earlier: string[] = []): ResultTopicRow & LocalChanges {
  const latest = changedFields(was, now);
  return { ...now, pending: [...new Set([...earlier, ...latest])], known: true, local: true, latest };
}
const echoOf = (before: Row | null, after: Row): ChangeEvent => ({
  schemaVersion: 1,
  topic: 'lab-results',
  op: before ? 'update' : 'create',
  key: { resultId: after.resultId },
  before,
  after,
  source: { system: 'postgres', name: 'legacy-pg', database: 'legacy', schema: 'public', table: 'lab_result', position: '0000000000000001/00000000', txId: null, commitTime: null, origin: WRITEBACK_ORIGIN },
});

describe('the echo of a result\'s write-back, the legacy holding the record', () => {
  it('a preliminary\'s echo (its insert) read after the final was applied here: the final\'s value, flag and status stay, nothing taken', () => {
    const m = resultEchoMerge(ours(preliminary(), final()), echoOf(null, preliminary()));
    expect(m).toEqual({ whole: false, take: [] });
  });

  it('the final\'s echo holds the final as the service does: applied whole', () => {
    expect(resultEchoMerge(ours(preliminary(), final()), echoOf(preliminary(), final()))).toEqual({ whole: true });
  });

  it('the final applied in the second of a screen\'s save: the trigger stamped the write-back again, still the final\'s echo', () => {
    const screened = preliminary({ referenceRange: '3.4-5.3', lastUpdated: '2026-12-08T10:00:02' });
    const written = { ...screened, value: '4.2', abnormalFlag: null, status: 'F', lastUpdated: '2026-12-08T10:00:09' };
    expect(resultEchoMerge(ours(preliminary(), final()), echoOf(screened, written))).toEqual({ whole: true });
  });

  it('a screen\'s edit of the range carried by the preliminary\'s echo is taken (a versioned field: the version it replaces is kept); the value and status never', () => {
    const m = resultEchoMerge(ours(preliminary(), final()), echoOf(null, preliminary({ referenceRange: '3.4-5.3', lastUpdated: '2026-12-08T10:00:03' })));
    expect(m).toEqual({ whole: false, take: ['referenceRange'] });
  });

  it('a correction back to the preliminary\'s value: the preliminary\'s echo holds the value, not the status, and is an older one', () => {
    const corrected = final({ value: '5.9', abnormalFlag: 'H', status: 'C', lastUpdated: '2026-12-08T10:00:03' });
    const row = ours(final(), corrected, changedFields(preliminary(), final()));
    expect(resultEchoMerge(row, echoOf(null, preliminary()))).toEqual({ whole: false, take: [] });
    expect(resultEchoMerge(row, echoOf(preliminary(), final()))).toEqual({ whole: false, take: [] });
    expect(resultEchoMerge(row, echoOf(final(), corrected))).toEqual({ whole: true });
  });

  it('results changed before the latest change\'s fields were recorded: every pending field must be held', () => {
    const row = { ...ours(preliminary(), final()), latest: null };
    expect(resultEchoMerge(row, echoOf(preliminary(), final({ lastUpdated: FILED_AT })))).toEqual({ whole: false, take: [] });
    expect(resultEchoMerge(row, echoOf(preliminary(), final()))).toEqual({ whole: true });
  });
});

/**
 * ORUs of one result applied here one after the other (each its own second), their write-backs
 * landing in order, the echoes read in order, interleaved at random: the service shows the
 * latest ORU's result at every moment, an older echo never gives it a versioned field (no
 * version of a value the service no longer had), and the last echo leaves both sides alike.
 */
describe('a result\'s echoes interleaved with later ORUs (property)', () => {
  const oru = fc.record({ value: fc.constantFrom('4.2', '5.9', '6.3'), abnormalFlag: fc.constantFrom(null, 'H'), status: fc.constantFrom('P', 'F', 'C') });
  const step = fc.constantFrom('oru', 'land', 'echo');
  const shown = (r: Row) => [r.value, r.abnormalFlag, r.status];

  it('never shows an older result, keeps no version of an echo, and ends alike', () => {
    fc.assert(
      fc.property(fc.array(oru, { minLength: 1, maxLength: 5 }), fc.array(step, { maxLength: 25 }), (orus, schedule) => {
        let row: ResultTopicRow & LocalChanges = { ...preliminary(), pending: [], known: true, local: true, latest: null };
        let legacy: Row = preliminary();
        let now: Row = preliminary();
        const writeBacks: { before: Row; after: Row }[] = [];
        const echoes: { before: Row; after: Row }[] = [];
        let sent = 0;
        const apply = () => {
          const next: Row = { ...now, ...orus[sent++]!, lastUpdated: `2026-12-08T10:00:1${sent}` };
          const changed = changedFields(now, next);
          if (RESULT_VERSIONED_FIELDS.every((f) => !changed.includes(f))) return; // the same result again changes nothing
          writeBacks.push({ before: now, after: next });
          row = { ...next, pending: [...new Set([...(row.pending ?? []), ...changed])], known: true, local: true, latest: changed };
          now = next;
        };
        const land = () => {
          const w = writeBacks.shift()!;
          const before = legacy;
          legacy = { ...legacy, ...Object.fromEntries(changedFields(w.before, w.after).map((f) => [f, w.after[f]!])) };
          echoes.push({ before, after: legacy });
        };
        const echo = () => {
          const e = echoes.shift()!;
          const m = (row.pending ?? []).length === 0 ? { whole: true as const } : resultEchoMerge(row, echoOf(e.before, e.after));
          if (m.whole) {
            row = { ...row, ...e.after, pending: null };
            now = e.after;
          } else {
            expect(m.take.filter((f) => RESULT_VERSIONED_FIELDS.includes(f))).toEqual([]);
            now = { ...now, ...Object.fromEntries(m.take.map((f) => [f, e.after[f]!])) };
            row = { ...row, ...now };
          }
        };
        for (const s of schedule) {
          const latest = shown(now);
          if (s === 'oru' && sent < orus.length) apply();
          else if (s === 'land' && writeBacks.length > 0) land();
          else if (s === 'echo' && echoes.length > 0) {
            echo();
            expect(shown(now)).toEqual(latest);
          }
        }
        while (sent < orus.length) apply();
        while (writeBacks.length > 0) land();
        while (echoes.length > 0) echo();
        expect(now).toEqual(legacy);
        expect(row.pending ?? []).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });
});
