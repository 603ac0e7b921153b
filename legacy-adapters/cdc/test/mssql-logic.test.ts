/**
 * The SQL Server source's logic, without a server (none runs here): the LSN window, the
 * loud error for a stored LSN the cleanup job has passed, operations 1/2/4 mapped and 3 not,
 * the order of change rows across tables, and rows (as the mssql driver answers them) to events:
 * an update's old-row and new-row images made one change, a key change the delete(movedTo) and
 * create(movedFrom) the PostgreSQL source sends.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { loadMapping } from '../src/mapping/mapping-file.js';
import { ROOT, SHIPPED_MAPPING } from './support/cdc-scene.js';
import { parseMapping } from '../src/mapping/mapping-file.js';
import { planTable } from '../src/mapping/table-plan.js';
import { changesQuery, eventOfRow, eventsOfRows, mssqlValue, UnpairedUpdateError, type MssqlChangeRow } from '../src/mssql/change-rows.js';
import { compareChangeRows, incrementLsn, lsnHex, LsnBelowMinimumError, mssqlPosition, nextWindow, opOf } from '../src/mssql/lsn-window.js';

const L = (n: number | bigint) => BigInt(n).toString(16).toUpperCase().padStart(20, '0');

describe('LSN window', () => {
  it('reads from the first LSN when nothing is stored, then from just after the stored one, up to the maximum', () => {
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: null, minLsn: L(100), maxLsn: L(500) })).toEqual({ kind: 'read', from: L(100), to: L(500) });
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: L(500), minLsn: L(100), maxLsn: L(900) })).toEqual({ kind: 'read', from: L(501), to: L(900) });
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: L(900), minLsn: L(100), maxLsn: L(900) })).toEqual({ kind: 'idle' });
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: L(100), minLsn: L(100), maxLsn: L(101) })).toEqual({ kind: 'read', from: L(101), to: L(101) });
  });

  it('waits while the capture job has produced nothing (no maximum yet, or CDC off for the instance)', () => {
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: null, minLsn: null, maxLsn: null })).toEqual({ kind: 'idle' });
    expect(nextWindow({ captureInstance: 'dbo_WARD', stored: null, minLsn: '0x00000000000000000000', maxLsn: L(5) })).toEqual({ kind: 'idle' });
  });

  it('refuses loudly a stored LSN below the minimum: changes were cleaned up unread, and it asks for a new snapshot', () => {
    expect(() => nextWindow({ captureInstance: 'dbo_PATIENT_MASTER', stored: L(99), minLsn: L(100), maxLsn: L(500) })).toThrow(LsnBelowMinimumError);
    expect(() => nextWindow({ captureInstance: 'dbo_PATIENT_MASTER', stored: L(99), minLsn: L(100), maxLsn: L(500) })).toThrow(/below the minimum LSN .* of capture instance dbo_PATIENT_MASTER.*CDC_RESNAPSHOT=true/);
  });

  it('counts in 80-bit LSNs, across byte and word boundaries, and reads driver buffers and 0x text alike', () => {
    expect(incrementLsn(L(0xff))).toBe(L(0x100));
    expect(incrementLsn(L(0xffffffffffffffffn))).toBe(L(0x10000000000000000n));
    expect(() => incrementLsn('F'.repeat(20))).toThrow(/overflow/);
    expect(lsnHex(Buffer.from('0000002a000001f00003', 'hex'))).toBe('0000002A000001F00003');
    expect(lsnHex('0x0000002A000001F00003')).toBe('0000002A000001F00003');
    expect(() => lsnHex('xyz')).toThrow(/not an LSN/);
  });
});

describe('change rows', () => {
  it('maps __$operation 1, 2 and 4, and ignores 3', () => {
    expect([1, 2, 3, 4, 5].map(opOf)).toEqual(['delete', 'create', undefined, 'update', undefined]);
  });

  it('orders rows of several tables by start LSN, then seqval, then operation', () => {
    const rows = [
      { startLsn: L(20), seqval: L(2), operation: 4, id: 'd' },
      { startLsn: L(10), seqval: L(7), operation: 2, id: 'b' },
      { startLsn: L(20), seqval: L(2), operation: 3, id: 'c' },
      { startLsn: L(10), seqval: L(3), operation: 2, id: 'a' },
    ];
    expect(rows.sort(compareChangeRows).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd']);
    const positions = rows.map((r) => mssqlPosition(r.startLsn, r.seqval, r.operation));
    expect([...positions].sort()).toEqual(positions); // positions sort as the changes happened
    expect(positions[0]).toBe(`${L(10)}/${L(3)}/2`);
  });

  it('turns driver values into the envelope\'s forms', () => {
    // the driver reads datetime2 as UTC: its UTC fields are the stored local time
    expect(mssqlValue(new Date(Date.UTC(2024, 6, 1, 8, 0, 5)), 'datetime2')).toBe('2024-07-01T08:00:05');
    expect(mssqlValue(new Date(Date.UTC(2024, 6, 1, 8, 0, 5, 120)), 'datetime')).toBe('2024-07-01T08:00:05.120');
    expect(mssqlValue(new Date(Date.UTC(1980, 1, 29)), 'date')).toBe('1980-02-29');
    expect(mssqlValue(12.5, 'decimal')).toBe('12.5');
    expect(mssqlValue('9007199254740993', 'bigint')).toBe('9007199254740993');
    expect(mssqlValue(Buffer.from([0xde, 0xad]), 'varbinary')).toBe('\\xdead');
    expect(mssqlValue(true, 'bit')).toBe(true);
    expect(mssqlValue(null, 'nvarchar')).toBeNull();
    expect(mssqlValue('ÑÚÑEZ 患者', 'nvarchar')).toBe('ÑÚÑEZ 患者');
  });

  it('makes events with the topic\'s names, key, before on delete and after otherwise', () => {
    const m = parseMapping(
      'version: 1\ncdc:\n  source: legacy-mssql\n  schema: dbo\n  topics:\n    - topic: wards\n      table: WARD\n      key: [code]\n      fields: { code: WARD_CD, description: WARD_DESC }\n',
      'm.yaml',
    );
    const plan = planTable(m.topics[0]!, [
      { name: 'WARD_CD', type: 'varchar' },
      { name: 'WARD_DESC', type: 'varchar' },
    ]);
    const ctx = { source: 'legacy-mssql', database: 'LEGACY_HIS', schema: 'dbo', table: 'WARD', types: new Map([['WARD_CD', 'varchar']]), commitTime: null };
    const row = (op: number) => ({ __$start_lsn: Buffer.from(L(77), 'hex'), __$seqval: Buffer.from(L(3), 'hex'), __$operation: op, __$update_mask: Buffer.from([3]), WARD_CD: 'NEO', WARD_DESC: 'NEONATAL' });
    expect(eventOfRow(plan, row(3), ctx)).toBeUndefined();
    const created = eventOfRow(plan, row(2), ctx)!;
    expect(created).toEqual({
      schemaVersion: 1,
      topic: 'wards',
      op: 'create',
      key: { code: 'NEO' },
      before: null,
      after: { code: 'NEO', description: 'NEONATAL' },
      source: { system: 'mssql', name: 'legacy-mssql', database: 'LEGACY_HIS', schema: 'dbo', table: 'WARD', position: `${L(77)}/${L(3)}/2`, txId: L(77), commitTime: null, origin: null },
    });
    const deleted = eventOfRow(plan, row(1), ctx)!;
    expect([deleted.op, deleted.before, deleted.after]).toEqual(['delete', { code: 'NEO', description: 'NEONATAL' }, null]);
    expect(eventOfRow(plan, row(4), ctx)!.op).toBe('update');
  });
});

describe('updates with their old row (all update old), and key changes', () => {
  const m = parseMapping(
    'version: 1\ncdc:\n  source: legacy-mssql\n  schema: dbo\n  topics:\n    - topic: patients\n      table: PATIENT_MASTER\n      key: [mrn]\n      fields: { mrn: PAT_MRN, familyName: PAT_LAST_NAME }\n    - topic: wards\n      table: WARD\n      key: [code]\n      fields: { code: WARD_CD, description: WARD_DESC }\n',
    'm.yaml',
  );
  const patients = planTable(m.topics[0]!, [
    { name: 'PAT_MRN', type: 'varchar' },
    { name: 'PAT_LAST_NAME', type: 'varchar' },
  ]);
  const wards = planTable(m.topics[1]!, [
    { name: 'WARD_CD', type: 'varchar' },
    { name: 'WARD_DESC', type: 'varchar' },
  ]);
  const ctxOf = (table: string) => ({ source: 'legacy-mssql', database: 'LEGACY_HIS', schema: 'dbo', table, types: new Map([['PAT_MRN', 'varchar']]), commitTime: null });
  const pat = (lsn: number, seq: number, op: number, mrn: string, name = 'NUNEZ') => ({
    plan: patients,
    ctx: ctxOf('PATIENT_MASTER'),
    row: { __$start_lsn: Buffer.from(L(lsn), 'hex'), __$seqval: Buffer.from(L(seq), 'hex'), __$operation: op, __$update_mask: Buffer.from([3]), PAT_MRN: mrn, PAT_LAST_NAME: name } as MssqlChangeRow,
  });
  const ward = (lsn: number, seq: number, op: number, code: string) => ({
    plan: wards,
    ctx: ctxOf('WARD'),
    row: { __$start_lsn: Buffer.from(L(lsn), 'hex'), __$seqval: Buffer.from(L(seq), 'hex'), __$operation: op, __$update_mask: Buffer.from([3]), WARD_CD: code, WARD_DESC: 'NEONATAL' } as MssqlChangeRow,
  });
  const brief = (events: ReturnType<typeof eventsOfRows>) => events.map((e) => [e.op, e.key, e.before, e.after, e.movedTo, e.movedFrom, e.source.position]);

  it('reads each capture instance with all update old, in start LSN, seqval, operation order', () => {
    expect(changesQuery('dbo_PATIENT_MASTER')).toBe(
      "SELECT * FROM cdc.[fn_cdc_get_all_changes_dbo_PATIENT_MASTER](@from, @to, N'all update old') ORDER BY __$start_lsn, __$seqval, __$operation",
    );
    expect(changesQuery('a]b')).toContain('[fn_cdc_get_all_changes_a]]b]');
  });

  it('makes an update whose key changed (an MRN renamed) the delete(movedTo) and create(movedFrom) PostgreSQL sends, at the old and the new row\'s positions', () => {
    const events = eventsOfRows([pat(40, 9, 4, '8000002'), pat(40, 9, 3, '8000001')]);
    expect(brief(events)).toEqual([
      ['delete', { mrn: '8000001' }, { mrn: '8000001', familyName: 'NUNEZ' }, null, { mrn: '8000002' }, undefined, `${L(40)}/${L(9)}/3`],
      ['create', { mrn: '8000002' }, null, { mrn: '8000002', familyName: 'NUNEZ' }, undefined, { mrn: '8000001' }, `${L(40)}/${L(9)}/4`],
    ]);
    expect(events.map((e) => e.source.txId)).toEqual([L(40), L(40)]);
  });

  it('makes an update that keeps its key one update with its old row as before, at the new row\'s position', () => {
    expect(brief(eventsOfRows([pat(41, 2, 3, '8000001', 'NUNEZ'), pat(41, 2, 4, '8000001', 'NUÑEZ')]))).toEqual([
      ['update', { mrn: '8000001' }, { mrn: '8000001', familyName: 'NUNEZ' }, { mrn: '8000001', familyName: 'NUÑEZ' }, undefined, undefined, `${L(41)}/${L(2)}/4`],
    ]);
  });

  it('pairs a delete and an insert of one row sharing start LSN and seqval (a split update of a unique column) the same way, and leaves others alone', () => {
    // SQL Server may log an update of a column in a unique index (PAT_MRN is one) as a delete and an insert of one seqval
    expect(brief(eventsOfRows([pat(42, 5, 2, '8000009'), pat(42, 5, 1, '8000001')]))).toEqual([
      ['delete', { mrn: '8000001' }, { mrn: '8000001', familyName: 'NUNEZ' }, null, { mrn: '8000009' }, undefined, `${L(42)}/${L(5)}/1`],
      ['create', { mrn: '8000009' }, null, { mrn: '8000009', familyName: 'NUNEZ' }, undefined, { mrn: '8000001' }, `${L(42)}/${L(5)}/2`],
    ]);
    // a delete and an insert of two statements: two changes, nothing moved
    expect(brief(eventsOfRows([pat(43, 5, 1, '8000001'), pat(43, 6, 2, '8000009')])).map(([op, key, , , to, from]) => [op, key, to, from])).toEqual([
      ['delete', { mrn: '8000001' }, undefined, undefined],
      ['create', { mrn: '8000009' }, undefined, undefined],
    ]);
    // one statement that split two rows under one seqval: which delete became which insert is not known, so none is said to have moved
    const two = eventsOfRows([pat(44, 5, 1, '1'), pat(44, 5, 1, '2'), pat(44, 5, 2, '3'), pat(44, 5, 2, '4')]);
    expect(two.map((e) => [e.op, e.movedTo, e.movedFrom])).toEqual([
      ['delete', undefined, undefined],
      ['delete', undefined, undefined],
      ['create', undefined, undefined],
      ['create', undefined, undefined],
    ]);
  });

  it('keeps the order of several tables\' rows, pairs only rows of one table, and gives every event its own position, in order', () => {
    const events = eventsOfRows([ward(50, 3, 2, 'NEO'), pat(50, 2, 4, 'B'), pat(49, 7, 1, 'Z'), pat(50, 2, 3, 'A'), ward(50, 2, 1, 'OLD'), pat(51, 1, 3, 'C'), pat(51, 1, 4, 'C')]);
    expect(events.map((e) => [e.topic, e.op, e.key])).toEqual([
      ['patients', 'delete', { mrn: 'Z' }],
      // the ward's delete shares the patient's LSN and seqval but is another table's row: not its pair
      ['wards', 'delete', { code: 'OLD' }],
      ['patients', 'delete', { mrn: 'A' }],
      ['patients', 'create', { mrn: 'B' }],
      ['wards', 'create', { code: 'NEO' }],
      ['patients', 'update', { mrn: 'C' }],
    ]);
    const positions = events.map((e) => `${e.source.position}/${e.source.table}`);
    expect(new Set(positions).size).toBe(positions.length);
    const bare = events.map((e) => e.source.position);
    expect([...bare].sort()).toEqual(bare);
  });

  it('passes a statement that changed several rows under one seqval row by row, never stopping the source: new-row images as updates without before, old-row images dropped, with a warning of no values', () => {
    const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ fields, msg }) } as unknown as Pick<Logger, 'warn'>;
    // before: UnpairedUpdateError, on every read of the window again (the source stopped for good)
    const events = eventsOfRows([pat(63, 2, 3, '8000001', 'NUNEZ'), pat(63, 2, 4, '8000001', 'NUÑEZ'), pat(63, 2, 3, '8000002', 'DOE'), pat(63, 2, 4, '8000002', 'ROE')], log);
    expect(brief(events)).toEqual([
      ['update', { mrn: '8000001' }, null, { mrn: '8000001', familyName: 'NUÑEZ' }, undefined, undefined, `${L(63)}/${L(2)}/4`],
      ['update', { mrn: '8000002' }, null, { mrn: '8000002', familyName: 'ROE' }, undefined, undefined, `${L(63)}/${L(2)}/4`],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ schema: 'dbo', table: 'PATIENT_MASTER', rows: 4, oldImages: 2, operations: [3, 3, 4, 4] });
    expect(JSON.stringify(warnings)).not.toMatch(/8000001|8000002|NUNEZ|NUÑEZ|DOE|ROE/);
    // three rows (a delete and an insert besides an old-row image): the delete and the create as themselves, the old image dropped
    expect(brief(eventsOfRows([pat(64, 1, 1, '8000003'), pat(64, 1, 2, '8000004'), pat(64, 1, 3, '8000005')], log)).map(([op, key, , , to, from]) => [op, key, to, from])).toEqual([
      ['delete', { mrn: '8000003' }, undefined, undefined],
      ['create', { mrn: '8000004' }, undefined, undefined],
    ]);
    expect(warnings).toHaveLength(2);
    // a split of only deletes and inserts drops nothing: no warning, as before
    eventsOfRows([pat(65, 5, 1, '1'), pat(65, 5, 1, '2'), pat(65, 5, 2, '3'), pat(65, 5, 2, '4')], log);
    expect(warnings).toHaveLength(2);
  });

  it('pairs the rows of each capture instance apart: two instances of one table (a schema change) holding one update are two updates, not a group of four', () => {
    const of = (instance: string, op: number, name: string) => {
      const r = pat(66, 3, op, '8000001', name);
      return { ...r, ctx: { ...r.ctx, captureInstance: instance } };
    };
    // before: the four rows grouped as one and UnpairedUpdateError
    const events = eventsOfRows([of('dbo_PATIENT_MASTER', 3, 'NUNEZ'), of('dbo_PATIENT_MASTER', 4, 'NUÑEZ'), of('dbo_PATIENT_MASTER_v2', 3, 'NUNEZ'), of('dbo_PATIENT_MASTER_v2', 4, 'NUÑEZ')]);
    expect(brief(events).map(([op, key, before, after]) => [op, key, before, after])).toEqual([
      ['update', { mrn: '8000001' }, { mrn: '8000001', familyName: 'NUNEZ' }, { mrn: '8000001', familyName: 'NUÑEZ' }],
      ['update', { mrn: '8000001' }, { mrn: '8000001', familyName: 'NUNEZ' }, { mrn: '8000001', familyName: 'NUÑEZ' }],
    ]);
  });

  it('refuses an old-row image without its new one (the window takes whole start LSNs, so it cannot split a pair): nothing of the window passes', () => {
    expect(() => eventsOfRows([pat(60, 1, 2, 'X'), pat(61, 4, 3, '8000001')])).toThrow(UnpairedUpdateError);
    expect(() => eventsOfRows([pat(61, 4, 3, '8000001'), pat(61, 5, 4, '8000002')])).toThrow(/dbo\.PATIENT_MASTER .*operation 3.* without its new-row image/);
    // a new-row image alone is an update without its old row, as the old reading gave
    expect(brief(eventsOfRows([pat(62, 1, 4, '8000001')]))).toEqual([['update', { mrn: '8000001' }, null, { mrn: '8000001', familyName: 'NUNEZ' }, undefined, undefined, `${L(62)}/${L(1)}/4`]]);
  });
});

describe('migrations/legacy-mssql', () => {
  it('creates every table and column the mapping captures, and enables CDC on each table, in postgrator\'s naming', async () => {
    const dir = path.join(ROOT, 'migrations/legacy-mssql');
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['001.do.legacy-schema.sql', '002.do.enable-cdc.sql']);
    const schema = readFileSync(path.join(dir, files[0]!), 'utf8');
    const cdc = readFileSync(path.join(dir, files[1]!), 'utf8');
    expect(cdc).toMatch(/EXEC sys\.sp_cdc_enable_db;/);
    for (const t of (await loadMapping(SHIPPED_MAPPING)).topics) {
      const table = new RegExp(`CREATE TABLE dbo\\.${t.table} \\(([\\s\\S]*?)\\n\\);`).exec(schema)?.[1];
      expect(table, t.table).toBeDefined();
      for (const [, column] of t.fields) expect(table, `${t.table}.${column}`).toMatch(new RegExp(`^\\s+${column}\\s`, 'm'));
      expect(cdc).toContain(`@source_schema = N'dbo', @source_name = N'${t.table}'`);
    }
  });
});
