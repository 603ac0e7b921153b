/**
 * Starting an extracted service, short of signal handling (runService): its database migrated
 * and pooled, its HTTP app (the legacy contract's conventions, /healthz, /readyz, /metrics and
 * the service's own routes) listening, and its HL7 queue and CDC topics consumed, with gauges
 * of their depth. What differs between services (name, settings, routes, handlers, feeds) is
 * passed in. Changes made here as system of record go to the outbox table in the same
 * transaction, and the outbox relay publishes them for write-back to the legacy. close() stops
 * taking work first (HTTP, then the queues: the jobs in hand finish), then ends the connections.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { AuditLog, Authenticator, EMERGENCY_FILE_NAME, hl7QueuePrefix, TokenStore, trustedProxies, withDatabase, type Logger } from '@ficus/contracts';
import { cdcQueuePrefix, heldSnapshotEnds, migrateOutbox, OutboxRelay, type RetryPolicy } from '@ficus/contracts/queues';
import { legacyApiServer, registerLegacyErrors } from '@ficus/legacy-his/contract';
import { startChangeFeeds, type ChangeFeed } from '../cdc/change-feeds.js';
import { cachedUnresolved, ConflictReview } from '../cdc/conflict-review.js';
import { FeedFreshness } from '../cdc/feed-freshness.js';
import { refuseStaleReads } from '../cdc/stale-reads.js';
import { startHl7Intake, type Hl7Handlers } from '../hl7/hl7-intake.js';
import { conflictRoutes } from './conflict-routes.js';
import { migrateService } from './migrate-service.js';
import { startDedupRetention } from './dedup-retention.js';
import { countRequests, registerOpsRoutes, type OpsState } from './ops-routes.js';
import { QueueGauges } from './queue-gauges.js';
import type { CommonServiceConfig } from './service-env.js';
import { ServiceMetrics } from './service-metrics.js';
import { fixedSystemOfRecord, followRules, type SystemOfRecordSetting, type SystemOfRecordSource } from './system-of-record.js';
import { preferMrnAuthorities } from '@ficus/hl7-protocol';

export interface ServiceDefinition {
  /** the service's name: its migrations folder, its HL7 queues (hl7.<name>), its metrics and logs */
  name: string;
  /** the settings every service reads (commonServiceEnv) */
  config: CommonServiceConfig;
  /** its own settings */
  host: string;
  port: number;
  databaseUrl: string;
  systemOfRecord: SystemOfRecordSetting;
  /** with systemOfRecord `rules`: the rule whose mode `new` or `retired` makes this service the system of record */
  recordRule: string;
  /** the CDC topics its feeds consume */
  cdcTopics: readonly string[];
  log: Logger;
  /** the queues' retry policy (tests make it short) */
  retry?: Partial<RetryPolicy>;
  /** work on the migrated database before anything is served or consumed */
  init?: (pool: pg.Pool) => Promise<void>;
  /** the service's routes, beside the kit's ops routes */
  routes: (app: FastifyInstance, pool: pg.Pool, systemOfRecord: SystemOfRecordSource) => Promise<void>;
  hl7Handlers: Hl7Handlers;
  feeds: ChangeFeed[];
  /** work of the service's own beside serving and consuming (started after init, stopped before the pool ends) */
  background?: (pool: pg.Pool) => { stop(): Promise<void> };
}

export interface RunningService {
  app: FastifyInstance;
  pool: pg.Pool;
  port: number;
  url: string;
  databaseUrl: string;
  metrics: ServiceMetrics;
  systemOfRecord: SystemOfRecordSource;
  /** the outbox relay, when it runs here (tests publish through it) */
  outboxRelay: OutboxRelay | undefined;
  close(): Promise<void>;
}

/**
 * An extracted service's HTTP app, not yet listening: validation and error bodies as the
 * legacy API's, requests counted by route, /healthz, /readyz and /metrics, then its routes.
 */
export async function buildServiceApp(log: Logger, ops: OpsState, routes: (app: FastifyInstance) => Promise<void>, trustProxy: false | string = false): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; saying so keeps the instance's type the plain default
  const app = legacyApiServer(log as FastifyBaseLogger, { trustProxy });
  registerLegacyErrors(app);
  countRequests(app, ops.metrics);
  registerOpsRoutes(app, ops);
  if (ops.staleReads) refuseStaleReads(app, ops.staleReads);
  await routes(app);
  await app.ready();
  return app;
}

/** the unresolved-conflicts gauge reads the table at most this often, however often it is scraped */
export const CONFLICT_GAUGE_MAX_AGE_MS = 10_000;

export async function startService(d: ServiceDefinition): Promise<RunningService> {
  const { config, log, name } = d;
  // this hospital's MRNs among other facilities' in PID-3 (a process-wide setting of the HL7 readers)
  if (config.HL7_MRN_AUTHORITIES) preferMrnAuthorities(config.HL7_MRN_AUTHORITIES.split(','));
  await migrateService(d.databaseUrl, name, log);
  await migrateOutbox(d.databaseUrl, log);
  const pool = new pg.Pool({ connectionString: d.databaseUrl, max: config.DATABASE_POOL_MAX });
  pool.on('error', (err) => log.warn({ errCode: (err as { code?: string }).code }, 'idle database connection lost'));
  const storeUrl = config.FICUS_STORE_URL ?? withDatabase(config.DATABASE_URL, 'ficus_gateway');
  // the admin API's tokens and audit log (the gateway owns their schema): asked only when an operator calls /api/services/<name>/*
  const control = new pg.Pool({ connectionString: storeUrl, max: 2, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 });
  control.on('error', (err) => log.warn({ errCode: (err as { code?: string }).code }, 'idle rule store connection lost'));
  const systemOfRecord =
    d.systemOfRecord === 'rules'
      ? await followRules({
          service: name,
          recordRule: d.recordRule,
          storeUrl,
          redisUrl: config.REDIS_URL,
          stateDir: config.FICUS_STATE_DIR,
          emergencyFile: config.FICUS_EMERGENCY_FILE ?? path.join(config.FICUS_STATE_DIR, EMERGENCY_FILE_NAME),
          checkMs: config.FICUS_RULES_CHECK_MS,
          log,
        })
      : fixedSystemOfRecord(d.systemOfRecord);
  const metrics = new ServiceMetrics(name, systemOfRecord.current());
  systemOfRecord.onChange((now) => metrics.systemOfRecord.set(now === 'service' ? 1 : 0));
  metrics.gauge('ficus_service_system_of_record_emergency', 'Break glass: 1 while the emergency override file holds this service\'s record rule in legacy (the legacy is the system of record whatever the rules say)', [], async () => [
    { labels: {}, value: systemOfRecord.heldByEmergency() ? 1 : 0 },
  ]);
  let redis: Redis | undefined;
  let outboxRelay: OutboxRelay | undefined;
  let shuttingDown = false;
  const stops: (() => Promise<void>)[] = [];
  try {
    await d.init?.(pool);
    const retention = startDedupRetention({ pool, days: config.SERVICE_DEDUP_RETENTION_DAYS, log, purged: (what, n) => metrics.purged.inc({ what }, n) });
    stops.push(retention.stop);
    const background = d.background?.(pool);
    if (background) stops.push(() => background.stop());
    if (config.SERVICE_CONSUMERS) {
      redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
      redis.on('error', () => undefined); // BullMQ reconnects; /readyz shows it
    }
    // only a service that consumes the feed can tell how fresh it is
    const freshness = redis ? new FeedFreshness(d.feeds.map((f) => f.topic), config.CDC_PARTITIONS) : undefined;
    const staleReads = freshness && { freshness, systemOfRecord, maxLagMs: config.SERVICE_MAX_FEED_LAG_MS };
    if (redis) {
      metrics.gauge('ficus_service_snapshot_withdrawals_held', "Re-snapshots of a topic held by SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT: nothing withdrawn, waiting for a person (SERVICE_SNAPSHOT_WITHDRAW_ALLOW)", ['topic'], async () => {
        const held = await heldSnapshotEnds(pool);
        const per = new Map<string, number>();
        for (const h of held) per.set(h.topic, (per.get(h.topic) ?? 0) + 1);
        return [...per].map(([topic, value]) => ({ labels: { topic }, value }));
      });
    }
    if (freshness) metrics.gauge('ficus_service_cdc_feed_lag_seconds', 'How far behind the legacy database the CDC feed is, by the CDC reader\'s heartbeats (its least fresh partition); absent until the first heartbeat', [], async () => {
      const { lagMs } = freshness.lag();
      return lagMs === null ? [] : [{ labels: {}, value: lagMs / 1000 }];
    });
    const review = new ConflictReview(pool, name);
    const unresolved = cachedUnresolved(review, d.cdcTopics, CONFLICT_GAUGE_MAX_AGE_MS);
    metrics.gauge('ficus_service_conflicts_unresolved', `Changes recorded as conflicts and not resolved yet (ficus conflicts list), per topic; read at most every ${CONFLICT_GAUGE_MAX_AGE_MS / 1000} s`, ['topic'], async () =>
      (await unresolved()).map((c) => ({ labels: { topic: c.topic }, value: c.count })),
    );
    // an age, not a count, is what an alert needs: "a conflict has waited an hour for review" (FicusConflictsUnreviewed);
    // worked out at each scrape from the cached time, so it grows between the table's reads
    metrics.gauge('ficus_service_conflicts_oldest_unresolved_seconds', 'How long the oldest conflict not resolved yet has waited since it was recorded, per topic; 0 when none', ['topic'], async () =>
      (await unresolved()).map((c) => ({ labels: { topic: c.topic }, value: c.oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(c.oldest)) / 1000) })),
    );
    const oidc =
      config.FICUS_OIDC_ISSUER && config.FICUS_OIDC_AUDIENCE && config.FICUS_OIDC_JWKS_URL
        ? { issuer: config.FICUS_OIDC_ISSUER, audience: config.FICUS_OIDC_AUDIENCE, jwksUrl: config.FICUS_OIDC_JWKS_URL, roleClaim: config.FICUS_OIDC_ROLE_CLAIM }
        : undefined;
    const operator = { service: name, review, auth: new Authenticator(new TokenStore(control), oidc), audit: new AuditLog(control), log };
    const app = await buildServiceApp(
      log,
      { pool, redis, metrics, systemOfRecord, shuttingDown: () => shuttingDown, staleReads },
      async (a) => {
        await conflictRoutes(a, operator);
        await d.routes(a, pool, systemOfRecord);
      },
      // the admin API passes /api/services/<name>/* through: the conflicts' audit names its caller, not its address
      trustedProxies(config.SERVICE_API_TRUSTED_PROXIES),
    );
    stops.push(() => app.close());
    if (redis) {
      const consumed = { connection: redis, pool, systemOfRecord, metrics, log, retry: d.retry };
      const hl7 = await startHl7Intake({ ...consumed, service: name, partitions: config.HL7_PARTITIONS, handlers: d.hl7Handlers, waitForKeysMs: config.SERVICE_HL7_WAIT_FOR_KEYS_MS });
      stops.push(() => hl7.close());
      const withdrawals = { maxPercent: config.SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT, allowed: config.SERVICE_SNAPSHOT_WITHDRAW_ALLOW.split(',').map((a) => a.trim()).filter(Boolean) };
      const feeds = await startChangeFeeds({ ...consumed, partitions: config.CDC_PARTITIONS, feeds: d.feeds, tombstoneRetentionDays: config.SERVICE_DEDUP_RETENTION_DAYS, freshness, withdrawals });
      stops.push(() => Promise.all(feeds.map((f) => f.close())).then(() => undefined));
      const gauges = new QueueGauges(
        redis,
        [
          { channel: 'hl7', prefix: hl7QueuePrefix(name), partitions: config.HL7_PARTITIONS },
          ...d.cdcTopics.map((t) => ({ channel: 'cdc', prefix: cdcQueuePrefix(t), partitions: config.CDC_PARTITIONS })),
        ],
        metrics,
      );
      stops.push(() => gauges.close());
      if (config.SERVICE_OUTBOX_RELAY) {
        const relay = new OutboxRelay({ pool, connection: redis, service: name, partitions: config.WRITEBACK_PARTITIONS, log });
        outboxRelay = relay.start();
        stops.push(() => relay.close());
      }
    }
    await app.listen({ host: d.host, port: d.port });
    const port = (app.server.address() as AddressInfo).port;
    log.info({ port, ...systemOfRecord.describe(), consumers: config.SERVICE_CONSUMERS }, `${name} listening`);
    let closing: Promise<void> | undefined;
    return {
      app,
      pool,
      port,
      url: `http://${d.host === '0.0.0.0' || d.host === '::' ? '127.0.0.1' : d.host}:${port}`,
      databaseUrl: d.databaseUrl,
      metrics,
      systemOfRecord,
      outboxRelay,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          const force = setTimeout(() => app.server.closeAllConnections(), config.SERVICE_SHUTDOWN_TIMEOUT_MS);
          force.unref();
          try {
            for (const stop of stops) await stop();
          } finally {
            clearTimeout(force);
            await systemOfRecord.close();
            redis?.disconnect();
            await pool.end();
            await control.end();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await systemOfRecord.close();
    redis?.disconnect();
    await pool.end();
    await control.end();
    throw e;
  }
}
