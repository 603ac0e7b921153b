/**
 * Runs migrations/legacy-mssql on a SQL Server (postgrator, which speaks to SQL Server through
 * the mssql driver; node-pg-migrate is PostgreSQL-only): the stand-in legacy schema and CDC
 * enabled on it. Creates the database first when it is missing. Not run on the machines this
 * was built on (no SQL Server there).
 */
import { fileURLToPath } from 'node:url';
import sql from 'mssql';
import Postgrator from 'postgrator';
import type { Logger } from '@ficus/contracts';

const MIGRATIONS = fileURLToPath(new URL('../../../../migrations/legacy-mssql/*.sql', import.meta.url));

export async function migrateLegacyMssql(connectionString: string, log: Logger): Promise<string[]> {
  const config = sql.ConnectionPool.parseConnectionString(connectionString);
  const database = config.database;
  if (!database) throw new Error('CDC_MSSQL_URL names no database (Database=...)');
  const master = await new sql.ConnectionPool({ ...config, database: 'master' }).connect();
  try {
    await master.request().input('db', database).query(`IF DB_ID(@db) IS NULL EXEC('CREATE DATABASE ' + QUOTENAME(@db))`);
  } finally {
    await master.close();
  }
  const pool = await new sql.ConnectionPool(config).connect();
  try {
    const postgrator = new Postgrator({
      migrationPattern: MIGRATIONS,
      driver: 'mssql',
      database,
      schemaTable: 'ficus_legacy_schemaversion',
      execQuery: async (query: string) => ({ rows: (await pool.request().batch(query)).recordset ?? [] }),
    });
    const applied = await postgrator.migrate();
    const names = applied.map((m) => m.filename);
    if (names.length > 0) log.info({ applied: names }, 'SQL Server legacy database migrated');
    return names;
  } finally {
    await pool.close();
  }
}
