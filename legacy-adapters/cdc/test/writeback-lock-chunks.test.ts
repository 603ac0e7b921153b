/**
 * The legacy writer locks a job's rows in the table's key order (gone-rows.ts lockRows), one
 * statement per 200 keys. Before, the keys of a larger job (outbox batches of up to 1000) were
 * chunked in arrival order: each chunk took its rows in key order, but a later chunk could take
 * rows below an earlier one's, so two large overlapping jobs could still lock in two orders and
 * deadlock. Here the lock statements run on a real PostgreSQL, and the rows they lock are read in
 * the order they were locked: across all chunks, that is the key order of the columns (an integer
 * key given as text or number sorts as a number; a composite key by both its columns).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { LOCK_CHUNK, lockRows } from '../src/writeback/gone-rows.js';
import type { TopicTarget } from '../src/writeback/legacy-apply.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'writeback_lock_chunks');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await pool.query('CREATE TABLE "Patient Master" (pat_id integer PRIMARY KEY, city_nm text)');
  await pool.query('INSERT INTO "Patient Master" SELECT g, NULL FROM generate_series(1, 700) g');
  await pool.query('CREATE TABLE bed (ward_cd varchar(8), bed_no integer, PRIMARY KEY (ward_cd, bed_no))');
  await pool.query("INSERT INTO bed SELECT 'W' || lpad(w::text, 2, '0'), b FROM generate_series(1, 12) w, generate_series(1, 60) b");
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const target = (table: string, key: [string, string][]): TopicTarget => ({ table, columns: new Map(key), key, writeBack: true, merge: undefined, followsMerges: undefined });
const patients = target('public."Patient Master"', [['id', 'pat_id']]);
const beds = target('public.bed', [['ward', 'ward_cd'], ['bed', 'bed_no']]);

let n = 0;
const update = (topic: string, key: Record<string, unknown>): ChangeEvent => ({
  schemaVersion: 1,
  topic,
  op: 'update',
  key,
  before: null,
  after: { ...key },
  source: { system: 'postgres', name: 'outbox', database: 'svc', schema: 'public', table: topic, position: String(++n), txId: '1', commitTime: null, origin: null },
});

/** lockRows on a real connection, in a transaction; answers what was there and the keys of the rows each lock statement took, in the order taken */
async function locked(targets: Map<string, TopicTarget>, changes: ChangeEvent[]) {
  const client = await pool.connect();
  const statements: { rows: { i: number[] }[]; values: unknown[] }[] = [];
  try {
    await client.query('BEGIN');
    // the real client; only the lock statements' answers are kept to read the order they took the rows in
    const seeing = {
      query: async (text: string, values?: unknown[]) => {
        const r = await client.query(text, values);
        if (/FOR UPDATE/.test(text)) statements.push({ rows: r.rows as { i: number[] }[], values: values ?? [] });
        return r;
      },
    } as unknown as pg.ClientBase;
    const there = await lockRows(seeing, targets, changes);
    await client.query('ROLLBACK');
    return { there, statements };
  } finally {
    client.release();
  }
}

describe('a large write-back job locks its rows in one key order across its chunks', () => {
  it('an integer key, given as text and as numbers in outbox order: the rows are taken in ascending key order over every chunk', async () => {
    // 650 keys, in an order that is neither numeric nor textual: descending, every third as text ('0650' is row 650)
    const keys = Array.from({ length: 650 }, (_, i) => 650 - i).map((k, i) => (i % 3 === 0 ? String(k).padStart(4, '0') : k));
    // and two of no row
    const changes = [...keys.map((id) => update('patients', { id })), update('patients', { id: 9001 }), update('patients', { id: '9002' })];
    const { there, statements } = await locked(new Map([['patients', patients]]), changes);
    expect(statements.length).toBe(Math.ceil(changes.length / LOCK_CHUNK));
    // the row each statement took, in the order taken: the first key value it matched
    const taken = statements.flatMap((s) => s.rows.map((r) => Number(s.values[r.i[0]!])));
    expect(taken).toHaveLength(650);
    // before: 650, 649, ... in the first chunk's order, then lower rows in the next (the chunks in arrival order)
    expect(taken).toEqual([...taken].sort((a, b) => a - b));
    expect([...there].map((e) => Number(e.key.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 650 }, (_, i) => i + 1));
  });

  it('a composite key (ward, bed), matched row by row in IN: taken in (ward, bed) order over every chunk, each change told whether its row is there', async () => {
    const wards = Array.from({ length: 12 }, (_, w) => `W${String(12 - w).padStart(2, '0')}`);
    const keys = wards.flatMap((ward) => Array.from({ length: 40 }, (_, b) => ({ ward, bed: 40 - b })));
    const changes = [...keys.map((k, i) => update('beds', i % 2 ? k : { ward: k.ward, bed: String(k.bed) })), update('beds', { ward: 'W01', bed: 99 }), update('beds', { ward: 'W99', bed: 1 })];
    const { there, statements } = await locked(new Map([['beds', beds]]), changes);
    expect(statements.length).toBe(Math.ceil(changes.length / LOCK_CHUNK));
    const taken = statements.flatMap((s) => s.rows.map((r) => `${String(s.values[r.i[0]! * 2])}/${String(s.values[r.i[0]! * 2 + 1]).padStart(3, '0')}`));
    expect(taken).toHaveLength(480);
    expect(taken).toEqual([...taken].sort());
    expect(there.size).toBe(480);
    expect([...there].every((e) => e.key.bed !== 99 && e.key.ward !== 'W99')).toBe(true);
  });
});
