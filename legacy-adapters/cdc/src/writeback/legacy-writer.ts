/**
 * The legacy writer (write-back): after a flip, a new service is the system of record and the
 * legacy screens must still see what it writes. Its outbox events arrive on
 * `writeback.<service>.p<n>` (the outbox relay of @ficus/contracts/queues); each job is applied
 * to the legacy database in one transaction that
 *
 * 1. first writes a transactional logical message with the prefix `ficus-writeback`, which the
 *    PostgreSQL source reads at the head of the transaction and by which it tags (or drops)
 *    the transaction's changes: what Ficus wrote is not captured again as if legacy had (no loop);
 * 2. claims the events' outbox positions per service, topic and key in
 *    `ficus_writeback_positions` (migrations/cdc-writeback): an event at or before the last
 *    applied one for its key is a redelivery and is skipped;
 * 3. maps the topic's fields back to the legacy columns through the same mapping as the capture,
 *    and applies create, update and delete, in outbox order. An update that carries its
 *    `before` writes only the fields the service changed (over the job's changes of the key):
 *    a legacy screen's edit of another field of the same row in the meantime stays (the
 *    service takes that edit field by field from CDC: service-kit's field-merge.ts).
 *
 * Data the legacy schema refuses (a check or foreign key, a value too long) is dead-lettered
 * with the database's reason (never the row's values); anything else is tried again in place.
 */
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { comparePositions, keyText, netChangePerKey, runMigrations, withTransaction, type ChangeBatch, type ChangeEvent, type Logger } from '@ficus/contracts';
import { changeBatchProblem, PartitionedConsumer, PermanentError, WRITEBACK_ORIGIN, writebackQueuePrefix, type RetryPolicy } from '@ficus/contracts/queues';
import type { CapturedTable } from '../postgres/preflight.js';
import { quoteIdent } from '../postgres/replication-connection.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/cdc-writeback', import.meta.url));

/** Creates the writer's position table in the legacy database. */
export function migrateWriteback(legacyUrl: string, log: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl: legacyUrl, dir: MIGRATIONS_DIR, table: 'ficus_cdc_writeback_pgmigrations', log, createDatabase: false });
}

export interface WritebackOutcome {
  service: string;
  topic: string;
  outcome: 'applied' | 'skipped' | 'refused';
  count: number;
}

export interface LegacyWriterOptions {
  connection: Redis;
  pool: pg.Pool;
  tables: CapturedTable[];
  services: string[];
  partitions: number;
  retry?: Partial<RetryPolicy>;
  log: Logger;
  outcome: (o: WritebackOutcome) => void;
}

interface TopicTarget {
  table: string;
  /** field → column (catalog names) */
  columns: Map<string, string>;
  key: [string, string][];
  writeBack: boolean;
}

/** SQLSTATE classes the legacy schema uses to refuse data (22 data exception, 23 integrity): a retry cannot mend them */
const isRefusal = (e: unknown) => /^2[23]/.test(String((e as { code?: unknown }).code ?? ''));

export class LegacyWriter {
  private readonly consumers: PartitionedConsumer<ChangeBatch>[] = [];
  private readonly targets = new Map<string, TopicTarget>();
  private readonly applied = new Map<string, { at: string; count: number }>();

  constructor(private readonly o: LegacyWriterOptions) {
    for (const t of o.tables) {
      const columns = new Map(t.plan.columns.filter((c) => !c.carried).map((c) => [c.field, c.column]));
      this.targets.set(t.mapping.topic, {
        table: `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`,
        columns,
        key: t.mapping.key.map((k) => [k, columns.get(k)!]),
        writeBack: t.mapping.writeBack,
      });
    }
  }

  async start(): Promise<void> {
    for (const service of this.o.services) {
      this.consumers.push(
        await PartitionedConsumer.start<ChangeBatch>({
          connection: this.o.connection,
          prefix: writebackQueuePrefix(service),
          partitions: this.o.partitions,
          retry: this.o.retry,
          log: this.o.log,
          handle: (job) => this.handle(service, job),
        }),
      );
    }
  }

  status(): { services: { name: string; lastAppliedAt: string | null; applied: number }[] } {
    return { services: this.o.services.map((s) => ({ name: s, lastAppliedAt: this.applied.get(s)?.at ?? null, applied: this.applied.get(s)?.count ?? 0 })) };
  }

  async deadLetters(): Promise<number> {
    const all = await Promise.all(this.consumers.map((c) => c.deadLetters(1000)));
    return all.reduce((n, d) => n + d.length, 0);
  }

  private async handle(service: string, job: Job<ChangeBatch>): Promise<void> {
    const problem = changeBatchProblem(job.data);
    if (problem) throw new PermanentError(`not a change batch of version 1: ${problem}`);
    const events = job.data.events;
    for (const e of events) {
      if (e.source.system !== 'outbox' || e.source.name !== service) throw new PermanentError(`an event from ${e.source.system} "${e.source.name}" on ${service}'s write-back queue`);
      const target = this.targets.get(e.topic);
      if (!target) throw new PermanentError(`topic "${e.topic}" is not in the CDC mapping: nothing to write it to`);
      if (!target.writeBack) throw new PermanentError(`topic "${e.topic}" is not written back (writeBack: false in the mapping)`);
      if (e.op === 'snapshot') throw new PermanentError('a snapshot event cannot be written back');
      for (const f of Object.keys(e.after ?? {})) if (!target.columns.has(f)) throw new PermanentError(`topic "${e.topic}" has no field "${f}" in the mapping`);
      for (const [k] of target.key) if (e.key[k] === undefined || e.key[k] === null) throw new PermanentError(`an event of topic "${e.topic}" without its key field "${k}"`);
    }
    const byTopic = new Map<string, ChangeEvent[]>();
    for (const e of events) {
      let list = byTopic.get(e.topic);
      if (!list) byTopic.set(e.topic, (list = []));
      list.push(e);
    }
    const latest = [...byTopic.values()].flatMap((list) => netChangePerKey(list)).sort((a, b) => comparePositions(a.source.position, b.source.position));
    let fresh: ChangeEvent[];
    try {
      fresh = await withTransaction(this.o.pool, async (client) => {
        // first in the transaction: the CDC reader sees it before any of the changes below
        await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [WRITEBACK_ORIGIN, service]);
        const claimed = await this.claim(client, service, latest);
        for (const e of claimed) await this.apply(client, this.targets.get(e.topic)!, e);
        return claimed;
      });
    } catch (e) {
      if (isRefusal(e)) {
        const topics = [...byTopic.keys()].join(', ');
        this.o.outcome({ service, topic: topics, outcome: 'refused', count: events.length });
        throw new PermanentError(`the legacy database refused the write-back (${(e as { code?: string }).code}): ${(e as Error).message}`);
      }
      throw e;
    }
    const appliedPerTopic = new Map<string, number>();
    for (const e of fresh) appliedPerTopic.set(e.topic, (appliedPerTopic.get(e.topic) ?? 0) + 1);
    for (const [topic, list] of byTopic) {
      const n = appliedPerTopic.get(topic) ?? 0;
      if (n > 0) this.o.outcome({ service, topic, outcome: 'applied', count: n });
      if (list.length > n) this.o.outcome({ service, topic, outcome: 'skipped', count: list.length - n });
    }
    const seen = this.applied.get(service) ?? { at: '', count: 0 };
    this.applied.set(service, { at: new Date().toISOString(), count: seen.count + fresh.length });
  }

  private async claim(client: pg.PoolClient, service: string, changes: ChangeEvent[]): Promise<ChangeEvent[]> {
    if (changes.length === 0) return [];
    const keys = changes.map((c) => keyText(c.key));
    const { rows } = await client.query<{ topic: string; key: string }>(
      `INSERT INTO ficus_writeback_positions AS p (service, topic, key, position)
       SELECT $1, t, k, pos FROM unnest($2::text[], $3::text[], $4::text[]) AS c(t, k, pos)
       ON CONFLICT (service, topic, key) DO UPDATE SET position = excluded.position, applied_at = clock_timestamp()
        WHERE (length(p.position), p.position) < (length(excluded.position), excluded.position)
       RETURNING topic, key`,
      [service, changes.map((c) => c.topic), keys, changes.map((c) => c.source.position)],
    );
    const claimed = new Set(rows.map((r) => `${r.topic}\u0000${r.key}`));
    return changes.filter((c, i) => claimed.has(`${c.topic}\u0000${keys[i]!}`));
  }

  private async apply(client: pg.PoolClient, t: TopicTarget, e: ChangeEvent): Promise<void> {
    const where = t.key.map(([, column], i) => `${quoteIdent(column)} = $${i + 1}`).join(' AND ');
    const keyValues = t.key.map(([field]) => e.key[field]);
    if (e.op === 'delete') {
      await client.query(`DELETE FROM ${t.table} WHERE ${where}`, keyValues);
      return;
    }
    const fields = Object.keys(e.after!).filter((f) => !t.key.some(([k]) => k === f));
    const changed = e.op === 'update' && e.before ? fields.filter((f) => !sameJson(e.before![f], e.after![f])) : fields;
    if (changed.length > 0) {
      const set = changed.map((f, i) => `${quoteIdent(t.columns.get(f)!)} = $${keyValues.length + i + 1}`).join(', ');
      const res = await client.query(`UPDATE ${t.table} SET ${set} WHERE ${where}`, [...keyValues, ...changed.map((f) => param(e.after![f]))]);
      if (res.rowCount! > 0) return;
    } else {
      const res = await client.query(`SELECT 1 FROM ${t.table} WHERE ${where}`, keyValues);
      if (res.rowCount! > 0) return;
    }
    // not there yet (made by the service after the flip): insert it, whole
    const values = fields.map((f) => param(e.after![f]));
    const columns = [...t.key.map(([, c]) => c), ...fields.map((f) => t.columns.get(f)!)];
    await client.query(
      `INSERT INTO ${t.table} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      [...keyValues, ...values],
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
  }
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** JSON values as query parameters: objects (json columns) as their JSON text, the rest as they are. */
function param(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
}
