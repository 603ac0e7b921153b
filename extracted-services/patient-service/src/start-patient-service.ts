/**
 * Everything main.ts does short of signal handling: migrate the service's database, serve
 * HTTP, and consume its HL7 queue and CDC topics. Exported so that the demo and the tests run
 * a complete patient-service in-process.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { hl7QueuePrefix, type Logger } from '@ficus/contracts';
import { cdcQueuePrefix, type RetryPolicy } from '@ficus/contracts/queues';
import { migrateService, QueueGauges, ServiceMetrics, startChangeFeeds, startHl7Intake } from '@ficus/service-kit';
import { buildPatientApp } from './app.js';
import { admissionsFeed, mergesFeed, patientsFeed, wardsFeed } from './cdc/patient-feeds.js';
import { patientServiceDatabaseUrl, type PatientServiceConfig } from './config.js';
import { adtHandlers } from './hl7/adt-handlers.js';
import { noOutbox, type OutboxSeam } from './outbox-seam.js';
import { MrnBlock } from './patients/mrn-block.js';

export const SERVICE_NAME = 'patient-service';
export const CDC_TOPICS = ['patients', 'wards', 'admissions', 'patient-merges'] as const;

export interface RunningPatientService {
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
  /** where changes made here are handed to the outbox (none yet) */
  outbox?: OutboxSeam;
}

export async function startPatientService(config: PatientServiceConfig, log: Logger, extras: StartExtras = {}): Promise<RunningPatientService> {
  const databaseUrl = patientServiceDatabaseUrl(config);
  await migrateService(databaseUrl, SERVICE_NAME, log);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: config.DATABASE_POOL_MAX });
  pool.on('error', (err) => log.warn({ errCode: (err as { code?: string }).code }, 'idle database connection lost'));
  const regime = config.PATIENT_SERVICE_SYSTEM_OF_RECORD;
  const metrics = new ServiceMetrics(SERVICE_NAME, regime);
  const mrns = new MrnBlock(config.PATIENT_SERVICE_MRN_FIRST, config.PATIENT_SERVICE_MRN_LAST);
  let redis: Redis | undefined;
  let shuttingDown = false;
  const stops: (() => Promise<void>)[] = [];
  try {
    await mrns.init(pool);
    if (config.SERVICE_CONSUMERS) {
      redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2_000) });
      redis.on('error', () => undefined); // BullMQ reconnects; /readyz shows it
    }
    const app = await buildPatientApp({
      pool,
      log,
      mrns,
      outbox: extras.outbox ?? noOutbox,
      ops: { pool, redis, metrics, systemOfRecord: regime, shuttingDown: () => shuttingDown },
      fhir: {
        baseUrl: config.FHIR_BASE_URL,
        mrnSystem: config.PATIENT_SERVICE_MRN_SYSTEM,
        visitSystem: config.PATIENT_SERVICE_VISIT_SYSTEM,
        wardSystem: config.PATIENT_SERVICE_WARD_SYSTEM,
      },
    });
    stops.push(() => app.close());
    if (redis) {
      const hl7 = await startHl7Intake({ service: SERVICE_NAME, connection: redis, partitions: config.HL7_PARTITIONS, pool, handlers: adtHandlers(mrns, extras.outbox ?? noOutbox), systemOfRecord: regime, metrics, log, retry: extras.retry });
      stops.push(() => hl7.close());
      const feeds = await startChangeFeeds({
        connection: redis,
        partitions: config.CDC_PARTITIONS,
        pool,
        feeds: [patientsFeed(mrns), wardsFeed(), admissionsFeed(), mergesFeed()],
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
    await app.listen({ host: config.PATIENT_SERVICE_HOST, port: config.PATIENT_SERVICE_PORT });
    const port = (app.server.address() as AddressInfo).port;
    const host = config.PATIENT_SERVICE_HOST;
    log.info({ port, systemOfRecord: regime, consumers: config.SERVICE_CONSUMERS }, 'patient-service listening');
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
