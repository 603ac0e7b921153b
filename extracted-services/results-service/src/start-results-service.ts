/**
 * Everything main.ts does short of signal handling: migrate the service's database, serve
 * HTTP, and consume its HL7 queue and CDC topic. Exported so that the demo and the tests run
 * a complete results-service in-process.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { hl7QueuePrefix, type Logger } from '@ficus/contracts';
import { cdcQueuePrefix, type RetryPolicy } from '@ficus/contracts/queues';
import { migrateService, noOutbox, QueueGauges, type OutboxSeam, ServiceMetrics, startChangeFeeds, startHl7Intake } from '@ficus/service-kit';
import { buildResultsApp } from './app.js';
import { labResultsFeed } from './cdc/results-feed.js';
import { resultsServiceDatabaseUrl, type ResultsServiceConfig } from './config.js';
import { oruHandlers } from './hl7/oru-handler.js';
import { HttpPatientDirectory, type PatientDirectory } from './patient-directory.js';

export const SERVICE_NAME = 'results-service';
export const CDC_TOPICS = ['lab-results'] as const;

export interface RunningResultsService {
  app: FastifyInstance;
  pool: pg.Pool;
  port: number;
  url: string;
  databaseUrl: string;
  metrics: ServiceMetrics;
  close(): Promise<void>;
}

export interface StartExtras {
  /** the queues' retry policy (tests make it short) */
  retry?: Partial<RetryPolicy>;
  /** who answers for patients and stays (default: patient-service at PATIENT_SERVICE_URL) */
  patients?: PatientDirectory;
  /** where results taken here as system of record are handed to the outbox (none yet) */
  outbox?: OutboxSeam;
}

export async function startResultsService(config: ResultsServiceConfig, log: Logger, extras: StartExtras = {}): Promise<RunningResultsService> {
  const databaseUrl = resultsServiceDatabaseUrl(config);
  await migrateService(databaseUrl, SERVICE_NAME, log);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: config.DATABASE_POOL_MAX });
  pool.on('error', (err) => log.warn({ errCode: (err as { code?: string }).code }, 'idle database connection lost'));
  const regime = config.RESULTS_SERVICE_SYSTEM_OF_RECORD;
  const metrics = new ServiceMetrics(SERVICE_NAME, regime);
  const patients = extras.patients ?? new HttpPatientDirectory(config.PATIENT_SERVICE_URL, config.PATIENT_SERVICE_TIMEOUT_MS);
  let redis: Redis | undefined;
  let shuttingDown = false;
  const stops: (() => Promise<void>)[] = [];
  try {
    if (config.SERVICE_CONSUMERS) {
      redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
      redis.on('error', () => undefined); // BullMQ reconnects; /readyz shows it
    }
    const app = await buildResultsApp({
      pool,
      log,
      patients,
      ops: { pool, redis, metrics, systemOfRecord: regime, shuttingDown: () => shuttingDown },
      fhir: { baseUrl: config.FHIR_BASE_URL, orderSystem: config.RESULTS_SERVICE_ORDER_SYSTEM, localTestSystem: config.RESULTS_SERVICE_TEST_SYSTEM },
    });
    stops.push(() => app.close());
    if (redis) {
      const hl7 = await startHl7Intake({ service: SERVICE_NAME, connection: redis, partitions: config.HL7_PARTITIONS, pool, handlers: oruHandlers(patients, extras.outbox ?? noOutbox), systemOfRecord: regime, metrics, log, retry: extras.retry });
      stops.push(() => hl7.close());
      const feeds = await startChangeFeeds({
        connection: redis,
        partitions: config.CDC_PARTITIONS,
        pool,
        feeds: [labResultsFeed()],
        systemOfRecord: regime,
        metrics,
        log,
        retry: extras.retry,
      });
      stops.push(() => Promise.all(feeds.map((f) => f.close())).then(() => undefined));
      const gauges = new QueueGauges(
        redis,
        [{ channel: 'hl7', prefix: hl7QueuePrefix(SERVICE_NAME), partitions: config.HL7_PARTITIONS }, ...CDC_TOPICS.map((t) => ({ channel: 'cdc', prefix: cdcQueuePrefix(t), partitions: config.CDC_PARTITIONS }))],
        metrics,
      );
      stops.push(() => gauges.close());
    }
    await app.listen({ host: config.RESULTS_SERVICE_HOST, port: config.RESULTS_SERVICE_PORT });
    const port = (app.server.address() as AddressInfo).port;
    const host = config.RESULTS_SERVICE_HOST;
    log.info({ port, systemOfRecord: regime, consumers: config.SERVICE_CONSUMERS }, 'results-service listening');
    let closing: Promise<void> | undefined;
    return {
      app,
      pool,
      port,
      url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
      databaseUrl,
      metrics,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          const force = setTimeout(() => app.server.closeAllConnections(), config.SERVICE_SHUTDOWN_TIMEOUT_MS);
          force.unref();
          try {
            // stop taking new work first (HTTP, then the queues: the jobs in hand finish), then the connections
            for (const stop of stops) await stop();
          } finally {
            clearTimeout(force);
            redis?.disconnect();
            await pool.end();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    redis?.disconnect();
    await pool.end();
    throw e;
  }
}
