/**
 * The SQL Server snapshot's end, without a server (none runs here): every row of every mapped
 * table is published as a `snapshot` event at the snapshot's position, and only then each
 * topic's snapshot end, once per topic whatever its tables; a snapshot whose read fails sends
 * no end (a service would withdraw the rows of the tables not read).
 */
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { parseMapping } from '../src/mapping/mapping-file.js';
import { planTable } from '../src/mapping/table-plan.js';
import { publishMssqlSnapshot, type MssqlSnapshotTable } from '../src/mssql/mssql-snapshot.js';
import { mssqlPosition } from '../src/mssql/lsn-window.js';

const m = parseMapping(
  'version: 1\ncdc:\n  source: legacy-mssql\n  schema: dbo\n  topics:\n' +
    '    - topic: wards\n      table: WARD\n      key: [code]\n      fields: { code: WARD_CD, description: WARD_DESC }\n' +
    '    - topic: patients\n      table: PATIENT_MASTER\n      key: [mrn]\n      fields: { mrn: PAT_MRN, lastName: LAST_NM }\n',
  'm.yaml',
);
const tables: MssqlSnapshotTable[] = [
  { mapping: m.topics[0]!, schema: 'dbo', table: 'WARD', plan: planTable(m.topics[0]!, [{ name: 'WARD_CD', type: 'varchar' }, { name: 'WARD_DESC', type: 'varchar' }]) },
  { mapping: m.topics[1]!, schema: 'dbo', table: 'PATIENT_MASTER', plan: planTable(m.topics[1]!, [{ name: 'PAT_MRN', type: 'varchar' }, { name: 'LAST_NM', type: 'nvarchar' }]) },
];
const rowsOf: Record<string, Record<string, unknown>[]> = {
  WARD: [{ WARD_CD: 'NEO', WARD_DESC: 'NEONATAL' }, { WARD_CD: 'ICU', WARD_DESC: 'INTENSIVE' }],
  PATIENT_MASTER: [{ PAT_MRN: '100001', LAST_NM: 'ÑÚÑEZ' }],
};
const position = mssqlPosition('0000002A000001F00003', '0', 0);

function recorder() {
  const calls: (['add', ChangeEvent] | ['end', string, string])[] = [];
  return {
    calls,
    publisher: {
      add: (e: ChangeEvent) => void calls.push(['add', e]),
      snapshotEnd: (topic: string, at: string) => void calls.push(['end', topic, at]),
      pressure: false,
      belowLowWater: async () => undefined,
    },
  };
}

describe('the SQL Server snapshot end', () => {
  it('follows every row of every table, once per topic, at the snapshot position', async () => {
    const r = recorder();
    const n = await publishMssqlSnapshot({ tables, position, source: 'legacy-mssql', database: 'LEGACY_HIS', read: async (t) => rowsOf[t.table]!, publisher: r.publisher, hooks: { read: () => undefined } });
    expect(n).toBe(3);
    expect(r.calls.map((c) => (c[0] === 'add' ? `${c[1].topic}:${c[1].op}:${JSON.stringify(c[1].key)}:${c[1].source.position}` : `end:${c[1]}:${c[2]}`))).toEqual([
      `wards:snapshot:{"code":"NEO"}:${position}`,
      `wards:snapshot:{"code":"ICU"}:${position}`,
      `patients:snapshot:{"mrn":"100001"}:${position}`,
      `end:wards:${position}`,
      `end:patients:${position}`,
    ]);
  });

  it('sends no end when a table cannot be read', async () => {
    const r = recorder();
    const failing = publishMssqlSnapshot({
      tables,
      position,
      source: 'legacy-mssql',
      database: 'LEGACY_HIS',
      read: async (t) => {
        if (t.table === 'PATIENT_MASTER') throw new Error('connection lost');
        return rowsOf[t.table]!;
      },
      publisher: r.publisher,
      hooks: { read: () => undefined },
    });
    await expect(failing).rejects.toThrow(/connection lost/);
    expect(r.calls.filter((c) => c[0] === 'end')).toEqual([]);
  });
});
