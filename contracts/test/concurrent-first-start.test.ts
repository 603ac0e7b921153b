/**
 * Kubernetes starts every replica at once, with no migration Job first: on an empty
 * PostgreSQL server several processes create the same database and migrate it together (the
 * gateway's replicas, and the CDC reader and the HL7 adapter, which migrate the rule store's
 * database too). Every one of them must start.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ensureDatabase } from '../src/postgres/ensure-database.js';
import { runMigrations, withDatabase } from '../src/postgres/migrate.js';
import { dropDatabase } from '../../test-support/databases.js';
import { MIGRATIONS_TABLE } from '../src/control-plane/open-store.js';

const GATEWAY_MIGRATIONS = fileURLToPath(new URL('../../migrations/gateway', import.meta.url));
const made: string[] = [];

afterEach(async () => {
  const admin = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await admin.connect();
  try {
    for (const name of made.splice(0)) await dropDatabase(admin, name);
  } finally {
    await admin.end();
  }
});

function freshUrl(prefix: string): string {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  made.push(name);
  return withDatabase(inject('databaseUrl'), name);
}

describe('concurrent first start on an empty server', () => {
  it('eight processes creating one database at once: all succeed, and exactly one says it created it', async () => {
    // a few rounds: the race (both see no database, both CREATE) needs the CREATEs to overlap
    for (let round = 0; round < 5; round++) {
      const url = freshUrl('ensure_race');
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => ensureDatabase(url)));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(1);
    }
  });

  it('the gateway, the HL7 adapter and CDC migrating the rule store database together: serialised (advisory lock), each migration applied once', async () => {
    const url = freshUrl('ficus_gateway_race');
    const runs = await Promise.allSettled(Array.from({ length: 4 }, () => runMigrations({ databaseUrl: url, dir: GATEWAY_MIGRATIONS, table: MIGRATIONS_TABLE })));
    expect(runs.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    // one run applied them all, the others found nothing left to do
    const applied = runs.map((r) => (r as PromiseFulfilledResult<string[]>).value.length).sort();
    expect(applied.slice(0, 3)).toEqual([0, 0, 0]);
    expect(applied[3]).toBeGreaterThan(0);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query<{ name: string; n: number }>(`SELECT name, count(*)::int AS n FROM ${MIGRATIONS_TABLE} GROUP BY name`);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      expect(rows).toHaveLength(applied[3]!);
    } finally {
      await db.end();
    }
  });
});
