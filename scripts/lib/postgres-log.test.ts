/**
 * The private PostgreSQL of the demo and the tests logs no row values: a refused row (a CDC
 * apply or a write-back breaking a constraint) must not put the patient's data in postgres.log.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, STATE_DIR, type PrivatePostgres } from './local-services.js';

const dir = path.join(STATE_DIR, `test-pglog-${process.pid}`);
let server: PrivatePostgres;

beforeAll(async () => {
  server = await startPostgres(dir, () => undefined);
}, 120_000);
afterAll(async () => {
  await server?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('the private PostgreSQL log', () => {
  it('names the refused constraint but neither the failing row nor the statement with its values', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query(`CREATE TABLE patient (mrn int PRIMARY KEY, family text NOT NULL, born date CHECK (born > '1900-01-01'))`);
      await client.query(`INSERT INTO patient VALUES (100020, 'COOPERSMITH', '1989-03-08')`);
      // a unique violation (DETAIL: Key (mrn)=(…) already exists) with literals in the statement
      await expect(client.query(`INSERT INTO patient VALUES (100020, 'COOPERSMITH', '1989-03-08')`)).rejects.toThrow(/duplicate key/);
      // a check violation (DETAIL: Failing row contains (…)) with bind parameters
      await expect(client.query('INSERT INTO patient VALUES ($1, $2, $3)', [100021, 'WHITTAKER', '1850-07-14'])).rejects.toThrow(/check constraint/);
    } finally {
      await client.end();
    }
    // the server writes its log asynchronously from the backend; give it a moment
    let log = '';
    for (let i = 0; i < 40 && !log.includes('patient_born_check'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = readFileSync(path.join(dir, 'postgres.log'), 'utf8');
    }
    expect(log).toMatch(/violates unique constraint "patient_pkey"/);
    expect(log).toMatch(/violates check constraint "patient_born_check"/);
    for (const value of ['100020', '100021', 'COOPERSMITH', 'WHITTAKER', '1989-03-08', '1850-07-14']) expect(log).not.toContain(value);
    expect(log).not.toMatch(/Failing row contains|STATEMENT:/);
  });
});
