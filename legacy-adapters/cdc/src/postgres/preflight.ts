/**
 * What a PostgreSQL source checks before it reads anything: the server can do logical
 * replication (naming the setting when it cannot), and the mapping fits the database (every
 * table and mapped column it names exists, every column of a captured table is mapped or ignored,
 * updates carry whole old rows). Problems come back located in the mapping file; an ignored
 * column that is not there is a warning (mappingWarnings), not a problem.
 */
import type pg from 'pg';
import type { RuleIssue } from '@ficus/contracts';
import { MappingError, mappingIssue, type CdcMapping, type TopicMapping } from '../mapping/mapping-file.js';
import { planTable, SchemaChangeError, type TablePlan } from '../mapping/table-plan.js';

export class ReplicationSetupError extends Error {
  override readonly name = 'ReplicationSetupError';
}

/** Refuses, naming the setting, a server that cannot stream logical changes. */
export async function checkLogicalReplication(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders')",
  );
  const s = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  if (s.wal_level !== 'logical') {
    throw new ReplicationSetupError(
      `the legacy database is not configured for logical replication: wal_level is "${s.wal_level ?? 'unknown'}", it must be "logical" ` +
        '(set wal_level = logical in postgresql.conf, or -c wal_level=logical, and restart PostgreSQL)',
    );
  }
  for (const name of ['max_replication_slots', 'max_wal_senders']) {
    if (Number(s[name] ?? 0) < 1) throw new ReplicationSetupError(`the legacy database cannot stream changes: ${name} is ${s[name] ?? '0'}, it must be at least 1 (postgresql.conf, then restart PostgreSQL)`);
  }
}

export interface CapturedTable {
  mapping: TopicMapping;
  oid: number;
  schema: string;
  /** the table's name as the catalog has it */
  name: string;
  plan: TablePlan;
}

interface ColumnRow {
  oid: number;
  relname: string;
  nspname: string;
  relreplident: string;
  attname: string | null;
  atttypid: number | null;
}

/**
 * What the last checkMapping of a mapping found untidy but harmless, located in the file. Kept
 * beside the mapping rather than returned so that each caller of checkMapping (the source, the
 * writer) keeps its signature, and the deployable reads them once for its log and status.
 */
const warningsOf = new WeakMap<CdcMapping, RuleIssue[]>();

export function mappingWarnings(m: CdcMapping): RuleIssue[] {
  return warningsOf.get(m) ?? [];
}

/** Checks the mapping against the database; answers the captured tables, or throws MappingError. */
export async function checkMapping(pool: pg.Pool, m: CdcMapping): Promise<CapturedTable[]> {
  const schema = m.schema ?? 'public';
  const issues: RuleIssue[] = [];
  const warnings: RuleIssue[] = [];
  const tables: CapturedTable[] = [];
  for (const t of m.topics) {
    const here = ['cdc', 'topics', t.index];
    const { rows } = await pool.query<ColumnRow>(
      `SELECT c.oid::int AS oid, c.relname, n.nspname, c.relreplident::text, a.attname, a.atttypid::int AS atttypid
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE lower(n.nspname) = lower($1) AND lower(c.relname) = lower($2) AND c.relkind IN ('r', 'p')
        ORDER BY a.attnum`,
      [schema, t.table],
    );
    if (rows.length === 0) {
      issues.push(mappingIssue(m, [...here, 'table'], `no table ${t.table} in schema ${schema} of the legacy database`));
      continue;
    }
    const columns = rows.filter((r) => r.attname !== null).map((r) => ({ name: r.attname!, type: r.atttypid! }));
    const has = new Set(columns.map((c) => c.name.toLowerCase()));
    const before = issues.length;
    for (const [field, column] of t.fields) if (!has.has(column.toLowerCase())) issues.push(mappingIssue(m, [...here, 'fields', field], `table ${t.table} has no column ${column}`));
    // a column dropped after it was ignored takes nothing from the topic: refusing to start for it
    // turned a tidy-up into an outage at the next deploy. A mapped column missing is still refused.
    for (const [k, column] of t.ignore.entries()) {
      if (!has.has(column.toLowerCase())) warnings.push(mappingIssue(m, [...here, 'ignore', k], `table ${t.table} has no column ${column}: remove it from ignore`));
    }
    if (rows[0]!.relreplident !== 'f') {
      issues.push(
        mappingIssue(m, [...here, 'table'], `table ${t.table} does not have REPLICA IDENTITY FULL, so updates and deletes would not carry the whole old row: ALTER TABLE ${t.table} REPLICA IDENTITY FULL (legacy-his migration 006)`),
      );
    }
    if (issues.length > before) continue;
    try {
      tables.push({ mapping: t, oid: rows[0]!.oid, schema: rows[0]!.nspname, name: rows[0]!.relname, plan: planTable(t, columns) });
    } catch (e) {
      if (!(e instanceof SchemaChangeError)) throw e;
      issues.push(mappingIssue(m, [...here, 'fields'], e.message));
    }
  }
  if (issues.length > 0) throw new MappingError(issues);
  warningsOf.set(m, warnings);
  return tables;
}
