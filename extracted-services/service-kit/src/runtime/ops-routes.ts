/**
 * /healthz (the process answers), /readyz (its database and Redis answer, it knows who holds
 * the record, it is not shutting down; besides, the feed's freshness and re-snapshots held by
 * the withdrawal bound) and /metrics. /healthz answers as the legacy system's does, so the gateway's health
 * checks read both alike.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { heldSnapshotEnds, snapshotName, type WithdrawalReport } from '@ficus/contracts/queues';
import { staleBecause, type StaleReadGuard } from '../cdc/stale-reads.js';
import type { ServiceMetrics } from './service-metrics.js';
import type { SystemOfRecordSource } from './system-of-record.js';

const READY_TIMEOUT_MS = 2000;

async function within(check: Promise<unknown>, ms = READY_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([check.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface OpsState {
  pool: pg.Pool;
  redis: Redis | undefined;
  metrics: ServiceMetrics;
  systemOfRecord: SystemOfRecordSource;
  /** true from SIGTERM on: the load balancer stops sending */
  shuttingDown(): boolean;
  /** how fresh the CDC feed is, and whether reads are refused for it (with the consumers on) */
  staleReads?: StaleReadGuard;
}

export function registerOpsRoutes(app: FastifyInstance, s: OpsState): void {
  app.get('/healthz', async () => ({ status: 'UP' }));
  app.get('/readyz', async (_request, reply) => {
    let held: WithdrawalReport[] = [];
    const [database, queues] = await Promise.all([
      within(s.pool.query('SELECT 1')),
      s.redis ? within(s.redis.ping()) : Promise.resolve(true),
      s.redis ? within(heldSnapshotEnds(s.pool).then((h) => (held = h))) : Promise.resolve(true),
    ]);
    // a service that does not know who holds the record would refuse the writes it may have to take
    const unknown = s.systemOfRecord.unknownBecause();
    const up = database && queues && !unknown && !s.shuttingDown();
    return reply.code(up ? 200 : 503).send({
      status: up ? 'UP' : 'DOWN',
      ...(unknown ? { why: unknown } : {}),
      database: database ? 'UP' : 'DOWN',
      queues: s.redis ? (queues ? 'UP' : 'DOWN') : 'OFF',
      systemOfRecord: s.systemOfRecord.current(),
      systemOfRecordFrom: s.systemOfRecord.describe(),
      // not a reason to be unready: writes and fresh-enough reads go on; stale reads are refused one by one
      ...(s.staleReads ? { feed: feedDetail(s.staleReads) } : {}),
      // neither: the rows stay as they were; a person decides (SERVICE_SNAPSHOT_WITHDRAW_ALLOW)
      ...(held.length > 0 ? { snapshotWithdrawals: { held: held.map(heldDetail) } } : {}),
    });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', s.metrics.registry.contentType).send(await s.metrics.registry.metrics()));
}

function heldDetail(h: WithdrawalReport): Record<string, unknown> {
  return { snapshot: snapshotName(h.topic, h.position), source: h.source, topicRows: h.topicRows, wouldWithdraw: h.withdrawn, kept: h.kept + h.refused, maxPercent: h.maxPercent };
}

function feedDetail(g: StaleReadGuard): Record<string, unknown> {
  const lag = g.freshness.lag();
  const why = staleBecause(g);
  return { lagMs: lag.lagMs, caughtUpTo: lag.caughtUpTo, slowest: lag.slowest, maxLagMs: g.maxLagMs, reads: why ? 'REFUSED' : 'SERVED', ...(why ? { why } : {}) };
}

/** Counts every answer by route pattern (never the path: it holds MRNs). */
export function countRequests(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({ route: request.routeOptions.url ?? '(no route)', method: request.method, code: String(reply.statusCode) });
  });
}
