/**
 * The SQL Server snapshot's publishing, apart from the server (read through `read`), so that it
 * is tested without one: every row of every mapped table as a `snapshot` event at the
 * snapshot's position, then, once all are read, each topic's snapshot end (a marker on every
 * partition), from which the services withdraw the rows the snapshot did not bring.
 */
import type { ChangeEvent } from '@ficus/contracts';
import type { TopicMapping } from '../mapping/mapping-file.js';
import type { TablePlan } from '../mapping/table-plan.js';
import type { Publisher } from '../publish/publisher.js';
import type { SourceHooks } from '../source.js';
import { mssqlValue } from './change-rows.js';

export interface MssqlSnapshotTable {
  mapping: TopicMapping;
  schema: string;
  table: string;
  plan: TablePlan;
}

export interface MssqlSnapshot {
  tables: readonly MssqlSnapshotTable[];
  /** the snapshot's position (mssqlPosition of the maximum LSN when it began) */
  position: string;
  source: string;
  database: string;
  /** the table's rows as the mssql driver answers them (columns by their legacy names) */
  read: (t: MssqlSnapshotTable) => Promise<Record<string, unknown>[]>;
  publisher: Pick<Publisher, 'add' | 'pressure' | 'belowLowWater' | 'snapshotEnd'>;
  hooks: Pick<SourceHooks, 'read'>;
}

/** Publishes every table's rows, then each topic's end; the number of rows. */
export async function publishMssqlSnapshot(s: MssqlSnapshot): Promise<number> {
  let rows = 0;
  for (const t of s.tables) {
    for (const r of await s.read(t)) {
      const after: Record<string, unknown> = {};
      for (const c of t.plan.columns) after[c.field] = mssqlValue(r[c.column], String(c.type));
      const key: Record<string, unknown> = {};
      for (const [f] of t.plan.key) key[f] = after[f];
      const e: ChangeEvent = {
        schemaVersion: 1,
        topic: t.mapping.topic,
        op: 'snapshot',
        key,
        before: null,
        after,
        source: { system: 'mssql', name: s.source, database: s.database, schema: t.schema, table: t.table, position: s.position, txId: null, commitTime: null, origin: null },
      };
      s.hooks.read(e);
      s.publisher.add(e);
      rows++;
      if (s.publisher.pressure) await s.publisher.belowLowWater();
    }
  }
  // after every table: a snapshot cut short (an error, a crash) is taken again whole, with no end sent
  for (const topic of new Set(s.tables.map((t) => t.mapping.topic))) s.publisher.snapshotEnd(topic, s.position);
  return rows;
}
