/**
 * How the columns of one captured table, as the source describes them now, turn into a topic's
 * fields. Made again each time the source describes the table (pgoutput sends a Relation
 * message after every change of its columns), so a column added or dropped while the reader
 * runs is met here: mapped, ignored or carried as the mapping says, or refused, loudly. Never
 * silently dropped.
 */
import type { NewColumnPolicy, TopicMapping } from './mapping-file.js';

export interface SourceColumn {
  name: string;
  /** the source's type (PostgreSQL type oid; SQL Server type name) */
  type: number | string;
}

export interface ColumnPlan {
  /** index in the source's column list */
  index: number;
  column: string;
  type: number | string;
  /** the name in the topic's rows */
  field: string;
  carried: boolean;
}

export interface TablePlan {
  topic: string;
  mapping: TopicMapping;
  /** the columns that go into events, in the source's order */
  columns: ColumnPlan[];
  /** [field, index into columns] of the key, in the mapping's key order */
  key: [string, number][];
  /** columns the source has that are left out on purpose (ignored by name or by policy) */
  ignored: string[];
  /** new columns left out or carried by the policy: worth a warning and a metric */
  unexpected: { column: string; policy: NewColumnPolicy }[];
}

export class SchemaChangeError extends Error {
  override readonly name = 'SchemaChangeError';
  constructor(
    readonly table: string,
    readonly topic: string,
    readonly columns: string[],
    reason: string,
  ) {
    super(reason);
  }
}

/** Builds the plan, or throws SchemaChangeError when the table no longer fits the mapping. */
export function planTable(m: TopicMapping, columns: SourceColumn[]): TablePlan {
  const byName = new Map(columns.map((c, i) => [c.name.toLowerCase(), { ...c, index: i }]));
  const missing = m.fields.filter(([, column]) => !byName.has(column.toLowerCase())).map(([field, column]) => `${column} (field "${field}")`);
  if (missing.length > 0) {
    throw new SchemaChangeError(m.table, m.topic, missing, `table ${m.table} has no column ${missing.join(', ')} that topic "${m.topic}" maps: the table changed (or the mapping is wrong); fix the mapping and restart`);
  }
  const fieldOf = new Map(m.fields.map(([field, column]) => [column.toLowerCase(), field]));
  const ignoredByName = new Set(m.ignore.map((c) => c.toLowerCase()));
  const plan: TablePlan = { topic: m.topic, mapping: m, columns: [], key: [], ignored: [], unexpected: [] };
  const refused: string[] = [];
  for (const [index, c] of columns.entries()) {
    const lower = c.name.toLowerCase();
    const field = fieldOf.get(lower);
    if (field !== undefined) {
      plan.columns.push({ index, column: c.name, type: c.type, field, carried: false });
    } else if (ignoredByName.has(lower)) {
      plan.ignored.push(c.name);
    } else if (m.onNewColumn === 'ignore') {
      plan.ignored.push(c.name);
      plan.unexpected.push({ column: c.name, policy: 'ignore' });
    } else if (m.onNewColumn === 'carry') {
      plan.columns.push({ index, column: c.name, type: c.type, field: lower, carried: true });
      plan.unexpected.push({ column: c.name, policy: 'carry' });
    } else {
      refused.push(c.name);
    }
  }
  if (refused.length > 0) {
    throw new SchemaChangeError(
      m.table,
      m.topic,
      refused,
      `table ${m.table} has column ${refused.join(', ')} that the mapping of topic "${m.topic}" neither maps nor ignores, and its onNewColumn is "refuse": ` +
        'map the column (fields), list it under ignore, or set onNewColumn to ignore or carry, then restart',
    );
  }
  const fieldIndex = new Map(plan.columns.map((c, i) => [c.field, i]));
  plan.key = m.key.map((k) => [k, fieldIndex.get(k)!]);
  return plan;
}

/** The row of a topic from the source's values (one per source column, already converted). */
export function rowOf(plan: TablePlan, values: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const c of plan.columns) row[c.field] = values[c.index] ?? null;
  return row;
}

export function keyOf(plan: TablePlan, row: Record<string, unknown>): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const [field] of plan.key) key[field] = row[field];
  return key;
}
