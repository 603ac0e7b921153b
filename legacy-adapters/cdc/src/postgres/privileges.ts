/**
 * PostgreSQL refuses a missing privilege in its own words ("permission denied for database
 * legacy_his", "must be owner of table patient_master"), which say what failed, not what the
 * CDC user needs or who can give it. A start that fails so is explained here: the user, the
 * privilege, the statement that grants it, and the alternative that needs none (a publication
 * made once by the tables' owner, named by CDC_PUBLICATION). deploy/README.md lists them all.
 */
import type { CdcMapping } from '../mapping/mapping-file.js';

export interface PrivilegeContext {
  /** the user of CDC_LEGACY_DATABASE_URL */
  legacyUser: string;
  /** the user of DATABASE_URL (the Ficus databases) */
  ficusUser: string;
  publication: string;
  /** the mapped tables, schema-qualified */
  tables: string[];
}

const INSUFFICIENT_PRIVILEGE = '42501';

export function userOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username) || '(the connecting user)';
  } catch {
    return '(the connecting user)';
  }
}

export function mappedTables(m: CdcMapping): string[] {
  const schema = m.schema ?? 'public';
  return m.topics.map((t) => `${schema}.${t.table.toLowerCase()}`);
}

/** What to do about the refusal, or undefined when it is not a privilege PostgreSQL refused. */
export function privilegeAdvice(e: { code?: string; message: string }, c: PrivilegeContext): string | undefined {
  const m = e.message;
  const legacy = `the legacy database user "${c.legacyUser}" (CDC_LEGACY_DATABASE_URL)`;
  const publish = `CREATE PUBLICATION ${c.publication} FOR TABLE ${c.tables.join(', ')};`;
  const byOwner = `or have the tables' owner (or a DBA) run once \`${publish}\` in the legacy database: CDC then uses that publication as it is (its name: CDC_PUBLICATION, default ficus_cdc_<source>) and needs neither privilege`;
  let hit: RegExpExecArray | null;
  if ((hit = /permission denied for database "?([^"\s]+)"?/.exec(m))) {
    return `${legacy} may not create the publication in database ${hit[1]}: it needs CREATE on the database and to own the mapped tables (GRANT CREATE ON DATABASE ${hit[1]} TO "${c.legacyUser}"), ${byOwner}`;
  }
  if ((hit = /must be owner of table "?([^"\s]+)"?/.exec(m))) {
    return `${legacy} does not own table ${hit[1]}, and only a table's owner may put it in a publication: ${byOwner.replace(/^or /, '')}`;
  }
  if ((hit = /must be owner of publication "?([^"\s]+)"?/.exec(m))) {
    return `publication ${hit[1]} holds other tables than the mapping's, and ${legacy} does not own it to change it: have its owner run \`ALTER PUBLICATION ${hit[1]} SET TABLE ${c.tables.join(', ')};\``;
  }
  if ((hit = /permission denied for schema "?([^"\s]+)"?/.exec(m))) {
    return `${legacy} may not create tables in schema ${hit[1]}: write-back keeps its positions in a table of its own there (ficus_writeback_positions, and its migrations table): GRANT USAGE, CREATE ON SCHEMA ${hit[1]} TO "${c.legacyUser}"`;
  }
  if ((hit = /permission denied for (?:table|relation) "?([^"\s]+)"?/.exec(m))) {
    return `${legacy} may not read or write table ${hit[1]}: the snapshot reads every mapped table and write-back changes them: GRANT SELECT, INSERT, UPDATE, DELETE ON ${c.tables.join(', ')} TO "${c.legacyUser}"`;
  }
  if ((hit = /permission denied for sequence "?([^"\s]+)"?/.exec(m))) {
    return `${legacy} may not take values of sequence ${hit[1]} (a serial key the write-back's inserts leave to its default): GRANT USAGE ON SEQUENCE ${hit[1]} TO "${c.legacyUser}"`;
  }
  if (/replication role|start walsender|WAL sender/i.test(m)) {
    return `${legacy} lacks the REPLICATION attribute, which reading changes (the replication slot) needs: ALTER ROLE "${c.legacyUser}" REPLICATION`;
  }
  if (/permission denied to create database/.test(m)) {
    return `the Ficus database user "${c.ficusUser}" (DATABASE_URL) creates CDC's state database (CDC_STATE_DATABASE_URL, default ficus_cdc) on its first start: ALTER ROLE "${c.ficusUser}" CREATEDB, or create the database beforehand, owned by that user`;
  }
  return e.code === INSUFFICIENT_PRIVILEGE ? `a database user lacks a privilege; see deploy/README.md ("The CDC reader's database users") for the grants CDC needs` : undefined;
}

/** The start's error, its message followed by what to do when a privilege is missing. */
export function explainStartError(e: unknown, c: PrivilegeContext): unknown {
  if (!(e instanceof Error)) return e;
  const advice = privilegeAdvice(e as Error & { code?: string }, c);
  if (!advice) return e;
  // the first line: node-pg-migrate puts the whole stack of the refused statement in its message
  const explained = new Error(`${e.message.split('\n')[0]}: ${advice}`, { cause: e });
  (explained as Error & { code?: string }).code = (e as { code?: string }).code;
  return explained;
}
