/**
 * Creates a database when the server has none of that name, so that the defaults work on a
 * fresh PostgreSQL without a manual CREATE DATABASE. Safe when several processes start at once.
 */
import pg from 'pg';

const INVALID_CATALOG_NAME = '3D000';
const DUPLICATE_DATABASE = '42P04';
/**
 * Two CREATE DATABASE of one name at the same moment (replicas starting together): the second
 * fails on pg_database's unique index instead of with 42P04. The index waits for the first
 * transaction to end, so by then the database exists.
 */
const UNIQUE_VIOLATION = '23505';

export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return false;
  } catch (e) {
    if ((e as { code?: string }).code !== INVALID_CATALOG_NAME) throw e;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (e) {
    // another instance created it meanwhile
    const code = (e as { code?: string }).code;
    if (code !== DUPLICATE_DATABASE && code !== UNIQUE_VIOLATION) throw e;
    return false;
  } finally {
    await admin.end();
  }
}
