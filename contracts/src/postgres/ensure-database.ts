/**
 * Creates the legacy database when the server has none of that name, so that the defaults
 * work on a fresh development PostgreSQL without a manual CREATE DATABASE.
 */
import pg from 'pg';

const INVALID_CATALOG_NAME = '3D000';

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
  } catch (e) {
    // another instance created it meanwhile
    if ((e as { code?: string }).code !== '42P04') throw e;
  } finally {
    await admin.end();
  }
  return true;
}
