/**
 * SQL Server CDC's large-object columns, without a server: `__$update_mask` decoded as
 * sys.fn_cdc_is_bit_set does (ordinal 1 the lowest bit of the LAST byte), and an update's
 * old-values row (3), whose NULL for a varchar(max) the update did not change is not its value,
 * left out of the event's `before` where it was sent as null; a nulled one stays null.
 */
import { describe, expect, it } from 'vitest';
import { parseMapping } from '../src/mapping/mapping-file.js';
import { planTable } from '../src/mapping/table-plan.js';
import { eventOfRow, eventsOfRows, type MssqlChangeRow, type MssqlRowContext } from '../src/mssql/change-rows.js';
import { lobColumnOf, lobsNotGiven, maskHasOrdinal, type LobColumn } from '../src/mssql/update-mask.js';

const L = (n: number) => Buffer.from(n.toString(16).toUpperCase().padStart(20, '0'), 'hex');

describe('__$update_mask', () => {
  it('has ordinal 1 in the lowest bit of the last byte, ordinal 9 in the lowest of the byte before it', () => {
    const mask = Buffer.from([0b0000_0001, 0b1000_0010]); // ordinals 2, 8 and 9
    expect([1, 2, 3, 7, 8, 9, 10, 16].filter((o) => maskHasOrdinal(mask, o))).toEqual([2, 8, 9]);
  });

  it('answers false past the mask, for no mask, and for no ordinal', () => {
    expect(maskHasOrdinal(Buffer.from([0xff]), 9)).toBe(false);
    expect(maskHasOrdinal(null, 1)).toBe(false);
    expect(maskHasOrdinal(undefined, 1)).toBe(false);
    expect(maskHasOrdinal(Buffer.from([0xff]), 0)).toBe(false);
  });

  it('tells the large-object columns from the change table\'s types: (max) and xml by max_length -1, image/text/ntext by name', () => {
    expect(lobColumnOf('varchar', -1, 5)).toEqual({ ordinal: 5, neverOld: false });
    expect(lobColumnOf('xml', -1, 6)).toEqual({ ordinal: 6, neverOld: false });
    expect(lobColumnOf('ntext', 16, 7)).toEqual({ ordinal: 7, neverOld: true });
    expect(lobColumnOf('varchar', 20, 3)).toBeUndefined();
    expect(lobColumnOf('int', 4, 1)).toBeUndefined();
  });

  it('leaves out of an old-values row only the large columns its mask does not mark, and nothing of other rows', () => {
    const lobs = new Map<string, LobColumn>([
      ['NOTES', { ordinal: 3, neverOld: false }],
      ['OLD_MEMO', { ordinal: 4, neverOld: true }],
    ]);
    expect([...lobsNotGiven(3, Buffer.from([0b0010]), lobs)].sort()).toEqual(['NOTES', 'OLD_MEMO']);
    expect([...lobsNotGiven(3, Buffer.from([0b1100]), lobs)]).toEqual([]);
    for (const op of [1, 2, 4]) expect([...lobsNotGiven(op, Buffer.from([0b0010]), lobs)]).toEqual([]);
    expect([...lobsNotGiven(3, Buffer.from([0b0010]), undefined)]).toEqual([]);
  });
});

describe('an update of a table with a varchar(max) column', () => {
  const m = parseMapping(
    'version: 1\ncdc:\n  source: legacy-mssql\n  schema: dbo\n  topics:\n    - topic: patients\n      table: PATIENT_MASTER\n      key: [mrn]\n      fields: { mrn: PAT_MRN, phone: PHONE_NO, notes: PAT_NOTES }\n',
    'm.yaml',
  );
  const plan = planTable(m.topics[0]!, [
    { name: 'PAT_MRN', type: 'varchar' },
    { name: 'PHONE_NO', type: 'varchar' },
    { name: 'PAT_NOTES', type: 'varchar' },
  ]);
  // ordinals as cdc.captured_columns gives them: PAT_MRN 1, PHONE_NO 2, PAT_NOTES 3
  const ctx: MssqlRowContext = {
    source: 'legacy-mssql',
    database: 'LEGACY_HIS',
    schema: 'dbo',
    table: 'PATIENT_MASTER',
    types: new Map([['PAT_MRN', 'varchar']]),
    commitTime: null,
    lobs: new Map([['PAT_NOTES', { ordinal: 3, neverOld: false }]]),
  };
  const row = (op: number, mask: number, phone: string, notes: string | null) => ({
    plan,
    ctx,
    row: { __$start_lsn: L(50), __$seqval: L(7), __$operation: op, __$update_mask: Buffer.from([mask]), PAT_MRN: '8000001', PHONE_NO: phone, PAT_NOTES: notes } as MssqlChangeRow,
  });

  it('a phone changed: the old row\'s NULL notes (not given, the update did not touch them) are left out of before, after has them whole', () => {
    const [e] = eventsOfRows([row(3, 0b010, '555-0100', null), row(4, 0b010, '555-0199', 'ALLERGIC TO PENICILLIN')]);
    expect(e!.op).toBe('update');
    expect(e!.before).toEqual({ mrn: '8000001', phone: '555-0100' });
    expect(e!.after).toEqual({ mrn: '8000001', phone: '555-0199', notes: 'ALLERGIC TO PENICILLIN' });
  });

  it('the notes set to NULL: the old row gives their old value, the new row the NULL', () => {
    const [e] = eventsOfRows([row(3, 0b100, '555-0100', 'ALLERGIC TO PENICILLIN'), row(4, 0b100, '555-0100', null)]);
    expect(e!.before).toEqual({ mrn: '8000001', phone: '555-0100', notes: 'ALLERGIC TO PENICILLIN' });
    expect(e!.after).toEqual({ mrn: '8000001', phone: '555-0100', notes: null });
  });

  it('a delete and an insert keep every column (all bits set, varchar(max) given at the delete)', () => {
    expect(eventOfRow(plan, row(1, 0b111, '555-0100', 'X').row, ctx)!.before).toEqual({ mrn: '8000001', phone: '555-0100', notes: 'X' });
    expect(eventOfRow(plan, row(2, 0b111, '555-0100', null).row, ctx)!.after).toEqual({ mrn: '8000001', phone: '555-0100', notes: null });
  });
});
