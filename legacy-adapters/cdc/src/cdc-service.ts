/**
 * Assembles the CDC deployable: the mapping, the configured source (PostgreSQL now, SQL Server
 * when configured), the publisher to the topics' queues, the legacy writer (write-back), and
 * the HTTP endpoints (health, readiness with the slot's lag, metrics, /api/cdc/status).
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { formatIssue, openStore, partitionQueueName, type Logger, type OpenStore, type RecordEmergencyFile } from '@ficus/contracts';
import { cdcQueuePrefix, changeBatchSummary, DeadLetterDesk, deadLetterQueueName, writebackQueuePrefix } from '@ficus/contracts/queues';
import { adoptHashedKeyMoves } from './publish/key-moves.js';
import { emergencyFile, keyMoveTtl, legacyUrl, publicationOf, ruleStoreUrl, slotOf, stateUrl, writebackServices, type CdcConfig } from './config.js';
import { loadMapping, type CdcMapping } from './mapping/mapping-file.js';
import { migrateLegacyMssql } from './mssql/migrate-mssql.js';
import { MssqlSource } from './mssql/mssql-source.js';
import { startCdcApi, type RunningApi } from './ops/cdc-api.js';
import { CdcMetrics } from './ops/metrics.js';
import { PostgresSource } from './postgres/postgres-source.js';
import { checkMapping, mappingWarnings } from './postgres/preflight.js';
import { SESSION_OPTIONS } from './postgres/values.js';
import { Publisher } from './publish/publisher.js';
import type { SourceHooks, SourceStatus } from './source.js';
import { StateStore } from './state/state-store.js';
import { LegacyWriter, migrateWriteback } from './writeback/legacy-writer.js';
import { parseRecordRules, recordEmergencyStatus, recordHoldersFromStore, refusedEmergencyWarning, watchRecordEmergency } from './writeback/record-holder.js';

export interface CdcSource {
  readonly name: string;
  readonly kind: 'postgres' | 'mssql';
  start(): Promise<void>;
  status(): SourceStatus;
  slotLagBytes(): Promise<number | null>;
  /** every change committed at the source before this time (ms) has been handed to the publisher; null while not streaming */
  caughtUpAtMs(): number | null;
  enqueued(ack: bigint | undefined, changes: number): void;
  close(): Promise<void>;
}

export interface RunningCdc {
  apiPort: number;
  source: CdcSource;
  close(): Promise<void>;
}

export async function startCdc(config: CdcConfig, log: Logger): Promise<RunningCdc> {
  const mapping: CdcMapping = await loadMapping(config.CDC_MAPPING_FILE);
  if (config.CDC_SOURCE_NAME) mapping.source = config.CDC_SOURCE_NAME;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((e: Error) => log.warn({ err: e.message }, 'close failed'));
  };
  try {
    const state = await StateStore.open(stateUrl(config), log);
    closers.push(() => state.close());
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
    redis.on('error', () => undefined); // an enqueue waits for the connection; the publisher says so when it waits long
    closers.push(async () => redis.disconnect());

    let source: CdcSource | undefined;
    let writer: LegacyWriter | undefined;
    /** the emergency file the writer follows, and its record rules: for the status */
    let breakGlass: { file: RecordEmergencyFile; recordRules: Map<string, string> } | undefined;
    const topics = mapping.topics.map((t) => t.topic);
    const services = writebackServices(config);
    const depthQueues = topics.flatMap((t) => Array.from({ length: config.CDC_PARTITIONS }, (_, p) => ({ topic: t, queue: new Queue(partitionQueueName(cdcQueuePrefix(t), p), { connection: redis }) })));
    const deadQueues = services.flatMap((s) => Array.from({ length: config.CDC_PARTITIONS }, (_, p) => deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s), p)))).map((name) => ({ name, queue: new Queue(name, { connection: redis }) }));
    // read for gauges only: a failed read shows at the scrape; without a listener BullMQ prints each error raw
    for (const q of [...depthQueues, ...deadQueues]) q.queue.on('error', () => undefined);
    closers.push(async () => void (await Promise.all([...depthQueues, ...deadQueues].map((q) => q.queue.close()))));

    const metrics = new CdcMetrics({
      slotLagBytes: async () => (source ? [{ source: source.name, bytes: await source.slotLagBytes() }] : []),
      sourceStates: () => (source ? [{ source: source.name, state: source.status().state }] : []),
      queueDepth: async () => {
        const counts = await Promise.all(depthQueues.map(async (q) => ({ topic: q.topic, waiting: await q.queue.getWaitingCount() })));
        const per = new Map<string, number>();
        for (const c of counts) per.set(c.topic, (per.get(c.topic) ?? 0) + c.waiting);
        return [...per].map(([topic, waiting]) => ({ topic, waiting }));
      },
      deadLetters: async () => Promise.all(deadQueues.map(async (q) => ({ queue: q.name, count: await q.queue.getWaitingCount() }))),
      held: () => publisher.held,
      writebackWaiting: () => writer?.status().services.map((s) => ({ service: s.name, waiting: s.waiting !== null })) ?? [],
    });

    // the key changes read live CDC_KEY_MOVE_RETENTION_DAYS plus the gone-row wait; those an older version kept for ever get that life from now
    const keyMoveTtlMs = keyMoveTtl(config);
    // in the background: the start does not wait for Redis (an enqueue waits for it instead)
    void adoptHashedKeyMoves(redis, mapping.source, keyMoveTtlMs).then(
      (moves) => moves > 0 && log.info({ source: mapping.source, moves, ttlMs: keyMoveTtlMs }, 'key changes kept by an older version without an end now expire'),
      (e: Error) => log.warn({ source: mapping.source, err: e.message }, 'key changes kept by an older version not taken over (they stay in their hash, unread); tried again at the next start'),
    );

    const publisher: Publisher = new Publisher({
      connection: redis,
      partitions: config.CDC_PARTITIONS,
      maxEventsPerJob: config.CDC_MAX_EVENTS_PER_JOB,
      highWater: config.CDC_MAX_HELD_EVENTS,
      lingerMs: config.CDC_LINGER_MS,
      topics: config.CDC_HEARTBEAT_MS > 0 ? topics : [],
      source: mapping.source,
      keyMoveTtlMs,
      log,
      flushed: ({ boundary, perTopic, commitTimesMs, enqueuedAtMs }) => {
        let n = 0;
        for (const [topic, count] of perTopic) {
          metrics.published(mapping.source, topic, count);
          n += count;
        }
        for (const t of commitTimesMs) metrics.lag.observe({ source: mapping.source }, Math.max(0, enqueuedAtMs - t) / 1000);
        source?.enqueued(boundary?.ack, n);
      },
    });
    closers.push(() => publisher.close());

    const hooks: SourceHooks = {
      read: (e) => metrics.read(mapping.source, e.topic, e.op),
      echo: () => metrics.echoes.inc({ source: mapping.source }),
      backPressure: () => metrics.backPressure.inc({ source: mapping.source }),
      unexpectedColumns: (plan) => {
        for (const u of plan.unexpected) {
          metrics.schemaChanges.inc({ source: mapping.source, table: plan.mapping.table, outcome: u.policy });
          log.warn({ source: mapping.source, table: plan.mapping.table, column: u.column, policy: u.policy }, 'a captured table has a column the mapping does not name: handled by its onNewColumn policy');
        }
      },
      fatal: (err) => {
        metrics.sourceErrors.inc({ source: mapping.source });
        if (err.name === 'SchemaChangeError') metrics.schemaChanges.inc({ source: mapping.source, table: (err as Error & { table?: string }).table ?? '?', outcome: 'refused' });
      },
    };

    if (config.CDC_SOURCE_KIND === 'mssql') {
      if (!config.CDC_MSSQL_URL) throw new Error('CDC_SOURCE_KIND=mssql needs CDC_MSSQL_URL (an mssql connection string)');
      if (config.CDC_MSSQL_MIGRATE) await migrateLegacyMssql(config.CDC_MSSQL_URL, log);
      source = new MssqlSource({ connectionString: config.CDC_MSSQL_URL, mapping, state, publisher, pollMs: config.CDC_MSSQL_POLL_MS, log, hooks });
    } else {
      source = new PostgresSource({
        databaseUrl: legacyUrl(config),
        mapping,
        state,
        publisher,
        slot: slotOf(config, mapping.source),
        publication: publicationOf(config, mapping.source),
        snapshot: config.CDC_SNAPSHOT,
        resnapshot: config.CDC_RESNAPSHOT,
        echo: config.CDC_WRITEBACK_ECHO,
        statusIntervalMs: config.CDC_STATUS_INTERVAL_MS,
        snapshotFetchRows: config.CDC_SNAPSHOT_FETCH_ROWS,
        log,
        hooks,
      });
    }
    await source.start();
    closers.push(() => source.close());
    const mappingNotes = mappingWarnings(mapping).map(formatIssue);
    for (const w of mappingNotes) log.warn({ mapping: w }, 'the CDC mapping has an entry to tidy');
    if (config.CDC_HEARTBEAT_MS > 0) {
      // the services measure how fresh their copy is by these; a stopped or stuck reader stops them
      const beat = setInterval(() => {
        const at = source?.caughtUpAtMs();
        if (at != null) publisher.heartbeat(at);
      }, config.CDC_HEARTBEAT_MS);
      closers.push(async () => clearInterval(beat));
    }

    const control: OpenStore = await openStore({ url: ruleStoreUrl(config), rulesDir: config.FICUS_RULES_DIR, stateDir: config.FICUS_STATE_DIR, adminToken: undefined, bootstrapToken: false, log });
    closers.push(() => control.close());

    if (services.length > 0 && config.CDC_SOURCE_KIND === 'postgres') {
      const url = legacyUrl(config);
      await migrateWriteback(url, log);
      // a legacy database that does not answer a connection is "not now" (the writer waits and says so), not a hang
      const pool = new pg.Pool({ connectionString: url, max: 4, application_name: 'ficus-legacy-writer', options: SESSION_OPTIONS, connectionTimeoutMillis: 10_000 } as pg.PoolConfig);
      pool.on('error', () => undefined);
      closers.push(() => pool.end());
      // break glass: the file the gateway and the HL7 adapter read gives a service's record back to the legacy
      const recordRules = parseRecordRules(config.CDC_WRITEBACK_RECORD_RULES);
      const emergency = watchRecordEmergency(emergencyFile(config), recordRules, log);
      await emergency.load();
      emergency.start();
      closers.push(() => emergency.stop());
      breakGlass = { file: emergency, recordRules };
      writer = new LegacyWriter({
        connection: redis,
        pool,
        tables: await checkMapping(pool, mapping),
        services,
        partitions: config.CDC_PARTITIONS,
        fkWaitMs: config.CDC_WRITEBACK_FK_WAIT_MS,
        goneWaitMs: config.CDC_WRITEBACK_GONE_WAIT_MS,
        lockTimeoutMs: config.CDC_WRITEBACK_LOCK_TIMEOUT_MS,
        statementTimeoutMs: config.CDC_WRITEBACK_STATEMENT_TIMEOUT_MS,
        recordHolders: recordHoldersFromStore(control.store, recordRules, emergency),
        // the key changes this deployable's own source reads: a write-back of a renamed row follows it
        keyMoves: { source: mapping.source, slot: slotOf(config, mapping.source) },
        log,
        outcome: (o) => metrics.writeback.inc({ service: o.service, topic: o.topic, outcome: o.outcome }, o.count),
      });
      await writer.start();
      closers.push(() => writer!.close());
    } else if (services.length > 0) {
      log.warn({ services }, 'write-back to a SQL Server legacy database is not built: the legacy writer is off');
    }

    // the dead letters of the queues this deployable feeds (the services' CDC topics) and consumes (write-back)
    const deadLetters = DeadLetterDesk.open(config.REDIS_URL, {
      families: () => [
        ...topics.map((t) => ({ prefix: cdcQueuePrefix(t), partitions: config.CDC_PARTITIONS, describe: changeBatchSummary })),
        ...(writer ? services.map((s) => ({ prefix: writebackQueuePrefix(s), partitions: config.CDC_PARTITIONS, describe: changeBatchSummary })) : []),
      ],
    });
    closers.push(() => deadLetters.close());

    const api: RunningApi = await startCdcApi(config, {
      control,
      metrics,
      log,
      source,
      writer,
      deadLetters,
      topics: () => metrics.totals(),
      warnings: () => {
        const refused = breakGlass && refusedEmergencyWarning(breakGlass.file);
        return refused ? [...mappingNotes, refused] : mappingNotes;
      },
      enqueueWait: () => publisher.enqueueWait,
      emergency: () => (breakGlass ? recordEmergencyStatus(breakGlass.file, breakGlass.recordRules, services) : null),
    });
    closers.push(() => api.app.close());
    log.info({ apiPort: api.port, source: source.name, kind: source.kind, topics, writeback: writer ? services : [] }, 'CDC started');

    return {
      apiPort: api.port,
      source,
      async close() {
        api.ready = false;
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
