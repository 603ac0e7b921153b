/**
 * The conflict list's key filter on PostgreSQL: a JSON filter matches keys as the change
 * consumer identifies rows (keyText: every scalar as its text), whatever JSON type the change's
 * envelope gave the value (it follows the legacy column's type: int4 a number, int8 a string).
 * So {"admissionId":7} finds a key stored as "7" and {"admissionId":"8"} one stored as 8.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/databases.js';
import { migrateService } from '../runtime/migrate-service.js';
import { recordConflicts } from './change-rows.js';
import { ConflictReview } from './conflict-review.js';

let db: TestDatabase;
let pool: pg.Pool;
let review: ConflictReview;

const change = (topic: string, key: Record<string, unknown>, position: string) =>
  ({ topic, key, op: 'update', source: { name: 'legacy', position, commitTime: '2026-12-07T20:00:00.000Z' }, before: null, after: { ...key } }) as unknown as ChangeEvent;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'svc_conflict_keys');
  await migrateService(db.url, 'patient-service');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  review = new ConflictReview(pool, 'patient-service');
  const client = await pool.connect();
  try {
    await recordConflicts(
      client,
      [
        change('admissions', { admissionId: '7' }, '0/1'),
        change('admissions', { admissionId: 8 }, '0/2'),
        change('admissions', { admissionId: 70 }, '0/3'),
        change('patients', { mrn: '0000007' }, '0/4'),
        change('ward-beds', { ward: 'W1', bed: 7, flagged: true }, '0/5'),
        change('ward-beds', { ward: 'W1', bed: null, flagged: false }, '0/6'),
      ],
      'the service changed the row later',
    );
  } finally {
    client.release();
  }
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const keysOf = async (key: string) => (await review.list({ key, limit: 100 })).conflicts.map((c) => c.key).reverse();

describe('the conflict list filtered by a key', () => {
  it('finds a key whatever JSON type its value was stored with, as the change consumer tells rows apart', async () => {
    expect(await keysOf('{"admissionId":7}')).toEqual([{ admissionId: '7' }]);
    expect(await keysOf('{"admissionId":"7"}')).toEqual([{ admissionId: '7' }]);
    expect(await keysOf('{"admissionId":"8"}')).toEqual([{ admissionId: 8 }]);
    expect(await keysOf('{"admissionId":8}')).toEqual([{ admissionId: 8 }]);
    // the text, not a number's value: 7 is not 0000007
    expect(await keysOf('{"mrn":7}')).toEqual([]);
    expect(await keysOf('{"mrn":"0000007"}')).toEqual([{ mrn: '0000007' }]);
  });

  it('matches keys holding every field of the filter, booleans and null too', async () => {
    expect(await keysOf('{"ward":"W1","bed":"7"}')).toEqual([{ ward: 'W1', bed: 7, flagged: true }]);
    expect(await keysOf('{"flagged":"true"}')).toEqual([{ ward: 'W1', bed: 7, flagged: true }]);
    expect(await keysOf('{"bed":null}')).toEqual([{ ward: 'W1', bed: null, flagged: false }]);
    expect(await keysOf('{"ward":"W1","bed":8}')).toEqual([]);
    expect(await keysOf('{"nosuch":"7"}')).toEqual([]);
    expect(await keysOf('{}')).toHaveLength(6);
  });

  it('still takes a plain value of any field', async () => {
    expect(await keysOf('7')).toEqual([{ admissionId: '7' }, { ward: 'W1', bed: 7, flagged: true }]);
  });
});
