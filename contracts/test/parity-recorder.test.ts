/**
 * The parity recorder against a real PostgreSQL: counts per rule and minute, fields, totals;
 * a flush that fails keeps its counts for the next one; without a store nothing accumulates.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, ParityRecorder, ParityStore, runMigrations } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { fileURLToPath } from 'node:url';

let db: TestDatabase;
let pool: pg.Pool;
const log = createLogger('parity-test', { level: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'parity_recorder');
  await runMigrations({ databaseUrl: db.url, dir: fileURLToPath(new URL('../../migrations/gateway', import.meta.url)), table: 'gateway_pgmigrations' });
  pool = new pg.Pool({ connectionString: db.url });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('ParityRecorder', () => {
  it('adds comparisons up per rule, with fields and totals', async () => {
    const r = new ParityRecorder({ store: new ParityStore(pool), log });
    r.record('a', { match: true, fields: [] });
    r.record('a', { match: false, fields: ['/x', '/y'] });
    r.record('a', { match: false, fields: ['/x'] });
    r.skipped('a', 'busy');
    await r.flush();
    r.record('a', { match: false, fields: ['/x'] });
    await r.flush();
    const [f] = await new ParityStore(pool).figures(5, '5m', ['a']);
    expect(f).toMatchObject({ compared: 4, mismatches: 3, skipped: 1, parity: 0.25, topFields: [{ field: '/x', count: 3 }, { field: '/y', count: 1 }], total: { compared: 4, mismatches: 3 } });
    expect(r.compared.get('a')).toEqual(new Map([['match', 1], ['mismatch', 3]]));
  });

  it('puts a status difference first among fields that differ as often (a 404 against a 200 says the most)', async () => {
    const r = new ParityRecorder({ store: new ParityStore(pool), log });
    // a service that lacks the patient: status, and every body field, differ once each
    r.record('s', { match: false, fields: ['/address', '/birthDate', '/firstName', '/lastName', '/phone', 'status'] });
    await r.flush();
    const store = new ParityStore(pool);
    const [f] = await store.figures(5, '5m', ['s']);
    expect(f!.topFields.map((t) => t.field)).toEqual(['status', '/address', '/birthDate', '/firstName', '/lastName']);
    expect((await store.totalFields('s', 3)).map((t) => t.field)).toEqual(['status', '/address', '/birthDate']);
  });

  it('keeps the counts of a failed flush for the next one', async () => {
    let fail = true;
    const real = new ParityStore(pool);
    const flaky = Object.assign(Object.create(real) as ParityStore, {
      add: (b: Parameters<ParityStore['add']>[0], s: Parameters<ParityStore['add']>[1]) => (fail ? Promise.reject(new Error('store down')) : real.add(b, s)),
    });
    const r = new ParityRecorder({ store: flaky, log });
    r.record('b', { match: false, fields: ['/z'] });
    await r.flush();
    r.record('b', { match: true, fields: [] });
    fail = false;
    await r.flush();
    const [f] = await real.figures(5, '5m', ['b']);
    expect(f).toMatchObject({ compared: 2, mismatches: 1, topFields: [{ field: '/z', count: 1 }] });
  });

  it('keeps only its metrics without a store', async () => {
    const r = new ParityRecorder({ store: undefined, log });
    for (let i = 0; i < 1000; i++) r.record('c', { match: false, fields: [`/f${i}`] });
    await r.flush();
    expect(r.compared.get('c')?.get('mismatch')).toBe(1000);
    // nothing waits for a flush that can never happen
    expect((r as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(0);
  });
});
