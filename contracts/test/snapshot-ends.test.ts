/**
 * A re-snapshot's end, on a real Redis and PostgreSQL, through the change consumer: rows the
 * snapshot did not bring are withdrawn only once its end has reached every partition, as a
 * delete of the key at the snapshot's position (a tombstone: an older change replayed late does
 * not bring the row back); a row with no position from the source, a row with a change of the
 * service's own waiting, and a row whose snapshot event the database refused are kept; an end
 * delivered twice does nothing more; beyond the bound nothing is withdrawn until that snapshot
 * is allowed, once. A snapshot job dead-lettered whole keeps its rows, even one that is not a
 * valid batch, and even when noting them fails at first (the job then waits, it is not let go).
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, keyText, partitionOf, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, heldSnapshotEnds, migrateChangeConsumer, startChangeConsumer, type PartitionedConsumer, type WithdrawalReport } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const log = createLogger('snapshot-ends-test', { level: 'silent' });
const PARTITIONS = 3;
const SOURCE = 'legacy-pg';
const pos = (lsn: number, i = 0) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/${i.toString(16).padStart(8, '0')}`;

let redis: Redis;
let db: TestDatabase;
let pool: pg.Pool;
const consumers: PartitionedConsumer<ChangeBatch>[] = [];
const queues = new Map<string, Queue<ChangeBatch>>();

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  db = await createTestDatabase(inject('databaseUrl'), 'snapshot_ends');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url });
});

afterAll(async () => {
  for (const c of consumers) await c.close();
  for (const q of queues.values()) await q.close();
  await pool?.end();
  await db?.drop();
  redis?.disconnect();
});

interface Topic {
  name: string;
  decisions: WithdrawalReport[];
  change(mrn: string, op: ChangeEvent['op'], position: string, value?: string): ChangeEvent;
  send(events: ChangeEvent[]): Promise<void>;
  end(position: string, partitions?: number[]): Promise<void>;
  rows(): Promise<Record<string, string>>;
  start(o?: { maxPercent?: number; allowed?: string[]; pending?: Set<string>; partitions?: number }): Promise<PartitionedConsumer<ChangeBatch>>;
}

/** a topic of its own (table and queues), fed by hand as the CDC would */
async function topicOf(label: string): Promise<Topic> {
  const name = `${label}-${randomBytes(3).toString('hex')}`;
  const table = `t_${name.replace(/-/g, '_')}`;
  // the service's schema refuses the value BAD (a check the legacy does not have)
  await pool.query(`CREATE TABLE ${table} (mrn TEXT PRIMARY KEY, value TEXT CHECK (value <> 'BAD'))`);
  const queue = (p: number) => {
    const q = partitionQueueName(cdcQueuePrefix(name), p);
    if (!queues.has(q)) queues.set(q, new Queue<ChangeBatch>(q, { connection: redis }));
    return queues.get(q)!;
  };
  const t: Topic = {
    name,
    decisions: [],
    change: (mrn, op, position, value = 'v') => ({
      schemaVersion: 1,
      topic: name,
      op,
      key: { mrn },
      before: null,
      after: op === 'delete' ? null : { mrn, value },
      source: { system: 'postgres', name: SOURCE, database: 'legacy_his', schema: 'public', table: 'patient_master', position, txId: null, commitTime: null, origin: null },
    }),
    async send(events) {
      const per = new Map<number, ChangeEvent[]>();
      for (const e of events) {
        const p = partitionOf(keyText(e.key), PARTITIONS);
        per.set(p, [...(per.get(p) ?? []), e]);
      }
      for (const [p, list] of per) await queue(p).add('changes', { schemaVersion: 1, events: list });
    },
    async end(position, partitions = [...Array(PARTITIONS).keys()]) {
      for (const p of partitions) await queue(p).add('snapshot-end', { schemaVersion: 1, events: [], snapshotEnd: { source: SOURCE, topic: name, position, partitions: PARTITIONS } });
    },
    async rows() {
      const { rows } = await pool.query<{ mrn: string; value: string }>(`SELECT mrn, value FROM ${table} ORDER BY mrn`);
      return Object.fromEntries(rows.map((r) => [r.mrn, r.value]));
    },
    async start(o = {}) {
      const c = await startChangeConsumer({
        connection: redis,
        topic: name,
        partitions: o.partitions ?? PARTITIONS,
        pool,
        log,
        retry: { attempts: 2, baseMs: 10, maxMs: 20 },
        withdrawals: {
          maxPercent: o.maxPercent ?? 100,
          allowed: o.allowed ?? [],
          pendingLocal: async (keys) => new Set(keys.map(keyText).filter((k) => o.pending?.has(k))),
          decided: (r) => t.decisions.push(r),
        },
        apply: async (changes, client) => {
          for (const c of changes) {
            // an error that is neither the data's nor an outage: tried again, then the whole job dead-lettered
            if (c.after?.value === 'BOOM') throw new Error('the feed could not apply this job');
            if (c.op === 'delete') await client.query(`DELETE FROM ${table} WHERE mrn = $1`, [c.key.mrn]);
            else await client.query(`INSERT INTO ${table} VALUES ($1, $2) ON CONFLICT (mrn) DO UPDATE SET value = excluded.value`, [c.key.mrn, c.after!.value]);
          }
        },
      });
      consumers.push(c);
      return c;
    },
  };
  return t;
}

const P0 = pos(0x100);
const P = pos(0x900);
const mrns = (n: number) => Array.from({ length: n }, (_, i) => `M${String(i).padStart(3, '0')}`);
const ofPartition = (mrn: string) => partitionOf(keyText({ mrn }), PARTITIONS);

describe('a snapshot end on several partitions', () => {
  it('withdraws the rows the snapshot did not bring only once every partition has reached it, and only those', async () => {
    const t = await topicOf('all-partitions');
    await t.start();
    const all = mrns(30);
    // the first snapshot: nothing stored, nothing to withdraw
    await t.send(all.map((m) => t.change(m, 'snapshot', P0, 'first')));
    await t.end(P0);
    await until(async () => (t.decisions.length === 1 ? true : undefined), 'the first snapshot decided');
    expect(t.decisions[0]).toMatchObject({ state: 'withdrawn', withdrawn: 0, topicRows: 30 });

    // three rows the legacy deleted while the slot was gone: not in the re-snapshot
    const gone = [all[3]!, all[11]!, all[20]!];
    const kept = all.filter((m) => !gone.includes(m));
    await t.send(kept.map((m) => t.change(m, 'snapshot', P, 'second')));
    // the end reaches every partition but the last's
    const lastPartition = ofPartition(gone[0]!);
    await t.end(P, [...Array(PARTITIONS).keys()].filter((p) => p !== lastPartition));
    await until(async () => {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ficus_snapshot_end_partitions WHERE topic = $1 AND position = $2', [t.name, P]);
      return rows[0]!.n === PARTITIONS - 1 ? true : undefined;
    }, 'the end on the other partitions');
    expect(Object.keys(await t.rows())).toHaveLength(30); // nothing withdrawn yet
    expect(t.decisions).toHaveLength(1);

    await t.end(P, [lastPartition]);
    await until(async () => (t.decisions.length === 2 ? true : undefined), 'the re-snapshot decided');
    expect(t.decisions[1]).toMatchObject({ state: 'withdrawn', withdrawn: 3, kept: 0, refused: 0, topicRows: 30 });
    const rows = await t.rows();
    expect(Object.keys(rows).sort()).toEqual(kept);
    expect(new Set(Object.values(rows))).toEqual(new Set(['second']));
    // tombstones at the snapshot's position
    const { rows: tomb } = await pool.query<{ position: string; deleted: boolean }>('SELECT position, deleted FROM ficus_change_positions WHERE topic = $1 AND key = $2', [t.name, keyText({ mrn: gone[0]! })]);
    expect(tomb).toEqual([{ position: P, deleted: true }]);

    // a late, older change of a withdrawn row does not bring it back; the end again does nothing
    await t.send([t.change(gone[1]!, 'update', pos(0x500), 'late')]);
    await t.end(P);
    await t.send([t.change('M999', 'create', pos(0x901), 'after')]);
    await until(async () => ((await t.rows()).M999 ? true : undefined), 'a later change applied');
    expect((await t.rows())[gone[1]!]).toBeUndefined();
    expect(t.decisions).toHaveLength(2);
  });
});

describe('what a withdrawal keeps', () => {
  it('keeps rows without a position from the source, with a change of the service waiting, and whose snapshot row was refused', async () => {
    const t = await topicOf('keeps');
    await t.start({ pending: new Set([keyText({ mrn: 'M001' })]) });
    const all = mrns(20);
    await t.send(all.map((m) => t.change(m, 'snapshot', P0)));
    await t.end(P0);
    await until(async () => (t.decisions.length === 1 ? true : undefined), 'the first snapshot decided');
    // a row the service made itself: no position at all
    await pool.query(`INSERT INTO t_${t.name.replace(/-/g, '_')} VALUES ('LOCAL', 'mine')`);
    // the re-snapshot: M000 and M001 gone from the legacy (M001 changed here, waiting to be written back);
    // M002's row the service's database refuses (a dead letter: the legacy has it)
    const again = all.filter((m) => m !== 'M000' && m !== 'M001').map((m) => t.change(m, 'snapshot', P, m === 'M002' ? 'BAD' : 'v2'));
    await t.send(again);
    await t.end(P);
    await until(async () => (t.decisions.length === 2 ? true : undefined), 'the re-snapshot decided');
    expect(t.decisions[1]).toMatchObject({ state: 'withdrawn', withdrawn: 1, kept: 1, refused: 1 });
    const rows = await t.rows();
    expect(rows.M000).toBeUndefined();
    expect(rows.M001).toBe('v');
    expect(rows.M002).toBe('v');
    expect(rows.LOCAL).toBe('mine');
  });
});

describe('the bound', () => {
  it('withdraws nothing beyond the share, says so, and withdraws when that snapshot is allowed once', async () => {
    const t = await topicOf('bound');
    await t.start({ maxPercent: 10 });
    const all = mrns(20);
    await t.send(all.map((m) => t.change(m, 'snapshot', P0)));
    await t.end(P0);
    await until(async () => (t.decisions.length === 1 ? true : undefined), 'the first snapshot decided');
    // a reload cut short: 15 of 20 rows missing (75 % > 10 %)
    await t.send(all.slice(0, 5).map((m) => t.change(m, 'snapshot', P)));
    await t.end(P);
    await until(async () => (t.decisions.length === 2 ? true : undefined), 'the re-snapshot decided');
    expect(t.decisions[1]).toMatchObject({ state: 'held', withdrawn: 15, topicRows: 20, maxPercent: 10 });
    expect(Object.keys(await t.rows())).toHaveLength(20);
    expect((await heldSnapshotEnds(pool)).filter((h) => h.topic === t.name)).toMatchObject([{ position: P, withdrawn: 15 }]);
    // delivered again, still held and nothing withdrawn
    await t.end(P);
    await t.send([t.change('M900', 'create', pos(0x901))]);
    await until(async () => ((await t.rows()).M900 ? true : undefined), 'a later change applied');
    expect(t.decisions).toHaveLength(2);

    // allowed once (a restart with SERVICE_SNAPSHOT_WITHDRAW_ALLOW=<topic>@<position>)
    await Promise.all(consumers.splice(-1).map((c) => c.close()));
    await t.start({ maxPercent: 10, allowed: [`${t.name}@${P}`] });
    await until(async () => (t.decisions.length === 3 ? true : undefined), 'the allowed snapshot decided');
    expect(t.decisions[2]).toMatchObject({ state: 'withdrawn', withdrawn: 15 });
    expect(Object.keys(await t.rows()).sort()).toEqual([...all.slice(0, 5), 'M900']);
    expect((await heldSnapshotEnds(pool)).filter((h) => h.topic === t.name)).toEqual([]);
  });
});

describe('a snapshot job dead-lettered whole', () => {
  it('keeps its rows when the batch is not a valid one (one event of another shape)', async () => {
    const t = await topicOf('undecodable');
    await t.start();
    const all = mrns(12);
    await t.send(all.map((m) => t.change(m, 'snapshot', P0)));
    await t.end(P0);
    await until(async () => (t.decisions.length === 1 ? true : undefined), 'the first snapshot decided');
    // the re-snapshot's job on M004's partition carries one event the consumer does not take (a
    // source field it does not know): the whole job is a dead letter, its rows the legacy has
    const odd = 'M004';
    const inJob = all.filter((m) => ofPartition(m) === ofPartition(odd));
    const events = all.map((m) => (m === odd ? { ...t.change(m, 'snapshot', P), source: { ...t.change(m, 'snapshot', P).source, lsn: 'x' } } : t.change(m, 'snapshot', P, 'v2')));
    await t.send(events as ChangeEvent[]);
    await t.end(P);
    await until(async () => (t.decisions.length === 2 ? true : undefined), 'the re-snapshot decided');
    expect(t.decisions[1]).toMatchObject({ state: 'withdrawn', withdrawn: 0, refused: inJob.length });
    expect(Object.keys(await t.rows()).sort()).toEqual(all);
  });

  it('does not let the job go while noting its rows fails, and keeps them once noted', async () => {
    const t = await topicOf('note-fails');
    await t.start();
    const all = mrns(12);
    await t.send(all.map((m) => t.change(m, 'snapshot', P0)));
    await t.end(P0);
    await until(async () => (t.decisions.length === 1 ? true : undefined), 'the first snapshot decided');
    // the note of this topic's refused rows fails (as a database going away at that moment would)
    const seq = `s_${t.name.replace(/-/g, '_')}`;
    await pool.query(`CREATE SEQUENCE ${seq}`);
    await pool.query(
      `CREATE FUNCTION ${seq}_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.topic = '${t.name}' THEN PERFORM nextval('${seq}'); RAISE EXCEPTION 'no note now'; END IF; RETURN NEW; END $$`,
    );
    await pool.query(`CREATE TRIGGER ${seq}_t BEFORE INSERT ON ficus_snapshot_refusals FOR EACH ROW EXECUTE FUNCTION ${seq}_f()`);
    // M005's job cannot be applied: dead-lettered whole once its tries are used up
    const inJob = all.filter((m) => ofPartition(m) === ofPartition('M005'));
    await t.send(all.map((m) => t.change(m, 'snapshot', P, m === 'M005' ? 'BOOM' : 'v2')));
    await t.end(P);
    const tries = async () => (await pool.query<{ n: number }>(`SELECT last_value::int AS n FROM ${seq}`)).rows[0]!.n;
    await until(async () => ((await tries()) >= 3 || t.decisions.length > 1 ? true : undefined), 'the note tried three times');
    // the partition holds: its end is not reached, nothing is decided, nothing withdrawn
    expect(t.decisions).toHaveLength(1);
    expect(Object.keys(await t.rows())).toHaveLength(12);
    await pool.query(`DROP TRIGGER ${seq}_t ON ficus_snapshot_refusals`);
    await until(async () => (t.decisions.length === 2 ? true : undefined), 'the re-snapshot decided');
    expect(t.decisions[1]).toMatchObject({ state: 'withdrawn', withdrawn: 0, refused: inJob.length });
    expect(Object.keys(await t.rows()).sort()).toEqual(all);
  });
});
