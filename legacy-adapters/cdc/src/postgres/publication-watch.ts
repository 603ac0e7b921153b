/**
 * What the publication a PostgreSQL source streams through publishes of the mapped tables, and
 * what of that a DBA changed since CDC last read through it. The server decodes each change with
 * the catalog as it was when the change was made, so a change of a table that was out of the
 * publication then (dropped from it, even if added back a second later), of a row its row filter
 * left out, or a delete while deletes were not published, is never sent, and nothing in the stream
 * says so. What the publication publishes is therefore read when streaming starts (kept in the
 * state database across restarts) and every few seconds while streaming; a change that may have
 * lost changes stops the source for a new snapshot.
 *
 * A table's membership is its own row of pg_publication_rel: dropped and added again, it is
 * another row. Publish flags taken away and given back between two looks are not seen.
 */
import type pg from 'pg';
import type { StateStore } from '../state/state-store.js';
import { FatalSourceError } from './change-decoder.js';
import type { CapturedTable } from './preflight.js';
import { quoteIdent } from './replication-connection.js';

export const PUBLICATION_CHECK_MS = 5_000;

const ACTIONS = ['insert', 'update', 'delete', 'truncate'] as const;

export interface PublicationSeen {
  /** the actions it publishes */
  actions: string[];
  /** per mapped table ("schema.name"): how it is published ('all', 'schema' or 'rel:<oid>', with ' where <filter>' when filtered), null when not */
  tables: Record<string, string | null>;
  /** why changes may have been lost since (kept until a new snapshot, even once the publication is mended) */
  lost?: string;
}

interface PublicationRow {
  puballtables: boolean;
  pubinsert: boolean;
  pubupdate: boolean;
  pubdelete: boolean;
  pubtruncate: boolean;
  tables: { table: string; rel: string | null; rowfilter: string | null }[] | null;
}

const tableName = (t: CapturedTable) => `${t.schema}.${t.name}`;

/** What the publication publishes of the mapped tables; null when there is no such publication. */
export async function readPublication(pool: pg.Pool, publication: string, tables: CapturedTable[]): Promise<PublicationSeen | null> {
  // rowfilter through to_jsonb: the column exists from PostgreSQL 15 on
  const { rows } = await pool.query<PublicationRow>(
    `SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate,
            (SELECT json_agg(json_build_object('table', t.schemaname || '.' || t.tablename, 'rowfilter', to_jsonb(t) ->> 'rowfilter',
                    'rel', (SELECT r.oid::text FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE r.prpubid = p.oid AND n.nspname = t.schemaname AND c.relname = t.tablename)))
               FROM pg_publication_tables t WHERE t.pubname = p.pubname) AS tables
       FROM pg_publication p WHERE p.pubname = $1`,
    [publication],
  );
  const p = rows[0];
  if (!p) return null;
  const published = new Map((p.tables ?? []).map((t) => [t.table, t]));
  const seen: PublicationSeen = { actions: ACTIONS.filter((a) => p[`pub${a}`]), tables: {} };
  for (const t of tables) {
    const row = published.get(tableName(t));
    const how = !row ? null : p.puballtables ? 'all' : row.rel ? `rel:${row.rel}` : 'schema';
    seen.tables[tableName(t)] = how === null || !row?.rowfilter ? how : `${how} where ${row.rowfilter}`;
  }
  return seen;
}

/** What is wrong with it now for CDC, each as a clause ("it does not publish deletes"). */
function problems(seen: PublicationSeen): string[] {
  const out = ACTIONS.filter((a) => !seen.actions.includes(a)).map((a) => `it does not publish ${a}s`);
  for (const [table, how] of Object.entries(seen.tables)) {
    if (how === null) out.push(`it does not publish table ${table}`);
    else if (how.includes(' where ')) out.push(`it publishes only the rows of table ${table}${how.slice(how.indexOf(' where '))}`);
  }
  return out;
}

/**
 * What changed since `before` that may have kept changes from CDC and is not wrong now, each as
 * a clause (an action or a table missing now is among the problems).
 */
function changes(before: PublicationSeen, now: PublicationSeen): string[] {
  const out: string[] = [];
  for (const [table, how] of Object.entries(now.tables)) {
    const was = before.tables[table];
    // a table new to the mapping was not read before
    if (was === undefined || was === null || how === null || was === how) continue;
    out.push(`table ${table} was dropped from it and added again (by hand, or by CDC's start, which adds a mapped table that is missing), or its row filter changed`);
  }
  return out;
}

/** The statements that make it publish what CDC needs. */
function fixes(publication: string, tables: CapturedTable[], now: PublicationSeen | null): string[] {
  const list = tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`).join(', ');
  if (!now) return [`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list}`];
  const out: string[] = [];
  if (now.actions.length < ACTIONS.length) out.push(`ALTER PUBLICATION ${quoteIdent(publication)} SET (publish = '${ACTIONS.join(', ')}')`);
  if (Object.values(now.tables).some((how) => how === null || how.includes(' where '))) out.push(`ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${list}`);
  return out;
}

/**
 * Why CDC must not stream through the publication as it is now, or undefined. `before` is what
 * it published when CDC last streamed from this slot (null: not known); `fresh`, that the slot is
 * new, so nothing was read through the publication yet and nothing can have been lost.
 */
export function publicationRefusal(publication: string, tables: CapturedTable[], before: PublicationSeen | null, now: PublicationSeen | null, fresh: boolean): string | undefined {
  if (!fresh && before?.lost) return before.lost;
  const changed = !before || fresh ? [] : now ? changes(before, now) : ['it was dropped'];
  const found = [...changed, ...(now ? problems(now) : changed.length > 0 ? [] : ['it does not exist'])];
  if (found.length === 0) return undefined;
  const statements = fixes(publication, tables, now);
  const what = `publication ${publication} ${changed.length > 0 ? 'changed while CDC read through it' : 'does not publish what CDC reads'}: ${found.join('; ')}`;
  if (fresh) return `${what}. Make it do so (${statements.join('; ')}) and start again`;
  return (
    `${what}. The server never sends a change the publication did not publish when the change was made, so changes may be lost to CDC: ` +
    `${statements.length > 0 ? `${statements.join('; ')}, then ` : ''}restart with CDC_RESNAPSHOT=true to take a new snapshot`
  );
}

export interface WatchedPublication {
  pool: pg.Pool;
  publication: string;
  tables: CapturedTable[];
  state: StateStore;
  /** the source's name in the state database */
  source: string;
}

/** What the publication publishes now; throws FatalSourceError when it does not publish what CDC reads, or changed so since `before`. */
export async function checkPublication(w: WatchedPublication, before: PublicationSeen | null, fresh: boolean): Promise<PublicationSeen> {
  const now = await readPublication(w.pool, w.publication, w.tables);
  const refusal = publicationRefusal(w.publication, w.tables, before, now, fresh);
  if (!refusal) return now!;
  // what was lost stays lost once the publication is mended: every start says so until a new snapshot
  if (!fresh) await w.state.savePublication(w.source, { ...(before ?? { actions: [], tables: {} }), lost: refusal });
  throw new FatalSourceError(refusal);
}
