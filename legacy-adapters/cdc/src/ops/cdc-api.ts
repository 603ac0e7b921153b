/**
 * The CDC deployable's HTTP endpoints: /healthz, /readyz (503 while a source is not streaming;
 * the slot's lag in bytes and time), /metrics, and GET /api/cdc/status (the source, the write-back,
 * and how many change batches each service gave up on) behind the admin API's
 * tokens and roles (viewer), and the dead letters of its queues (/api/cdc/queues/dead-letters:
 * list, replay, discard). The gateway's admin API forwards /api/cdc/* here.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Authenticator, installAdminAuth, sendProblem, trustedProxies, type Logger, type OpenStore } from '@ficus/contracts';
import type { CdcStatus, WritebackEmergency } from '@ficus/contracts/api';
import { cdcQueuePrefix, deadLetterRoutes, type DeadLetterDesk } from '@ficus/contracts/queues';
import type { CdcSource } from '../cdc-service.js';
import type { CdcConfig } from '../config.js';
import type { EnqueueWait } from '../publish/publisher.js';
import type { LegacyWriter } from '../writeback/legacy-writer.js';
import { boundedRead, STATUS_REDIS_WAIT_MS } from './bounded-read.js';
import type { CdcMetrics } from './metrics.js';

export interface RunningApi {
  app: FastifyInstance;
  port: number;
  /** false from the start of a shutdown: /readyz answers 503 */
  ready: boolean;
}

export interface CdcApiDeps {
  control: OpenStore;
  metrics: CdcMetrics;
  log: Logger;
  source: CdcSource;
  writer: LegacyWriter | undefined;
  deadLetters: DeadLetterDesk;
  topics: () => Record<string, { read: number; published: number }>;
  /** what the operator should tidy (the mapping's entries that name nothing, with file:line) */
  warnings?: () => string[];
  /** since when change events wait for Redis (enqueueing stopped), if they do */
  enqueueWait?: () => EnqueueWait | undefined;
  /** the emergency override file while it is in force, as the legacy writer applies it */
  emergency?: () => WritebackEmergency | null;
}

export async function startCdcApi(config: CdcConfig, d: CdcApiDeps): Promise<RunningApi> {
  // the admin API passes /api/cdc/* through: its caller, not its address, goes to the audit log
  const app = Fastify({ logger: false, trustProxy: trustedProxies(config.CDC_API_TRUSTED_PROXIES) });
  const oidc =
    config.FICUS_OIDC_ISSUER && config.FICUS_OIDC_AUDIENCE && config.FICUS_OIDC_JWKS_URL
      ? { issuer: config.FICUS_OIDC_ISSUER, audience: config.FICUS_OIDC_AUDIENCE, jwksUrl: config.FICUS_OIDC_JWKS_URL, roleClaim: config.FICUS_OIDC_ROLE_CLAIM }
      : undefined;
  installAdminAuth(app, new Authenticator(d.control.tokens, oidc), d.control.audit, d.log);
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation || (err.statusCode && err.statusCode < 500)) return sendProblem(reply, err.statusCode ?? 400, 'invalid-request', 'Invalid request', err.message);
    d.log.error({ err: err.message }, 'CDC API request failed');
    return sendProblem(reply, 500, 'internal-error', 'Internal error', 'the request failed; see the CDC log');
  });
  const running: RunningApi = { app, port: 0, ready: true };

  const sourceStatus = async () => {
    const s = d.source.status();
    const lagBytes = await d.source.slotLagBytes();
    return { ...s, lagBytes };
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const s = await sourceStatus();
    // a source that streams while Redis takes nothing feeds no service: not ready either
    const enqueue = d.enqueueWait?.();
    const ready = running.ready && s.state === 'streaming' && enqueue === undefined;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not-ready',
      sources: [{ name: s.name, kind: s.kind, state: s.state, lagBytes: s.lagBytes, lagMs: s.lagMs, ...(s.error ? { error: s.error } : {}) }],
      ...(enqueue ? { enqueue } : {}),
    });
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', d.metrics.registry.contentType).send(await d.metrics.registry.metrics()));
  const writebackDeadLetters = boundedRead(() => (d.writer ? d.writer.deadLetters() : Promise.resolve(0)));
  const consumerDeadLetters = boundedRead(() => d.deadLetters.counts().then((counts) => counts.filter((c) => c.prefix.startsWith(cdcQueuePrefix('')))));
  app.get('/api/cdc/status', { config: { role: 'viewer' } }, async (): Promise<CdcStatus> => {
    // both Redis reads at once: the answer waits at most one bound, not two
    const [wbDead, consumerDead] = await Promise.all([writebackDeadLetters(), consumerDeadLetters()]);
    const warnings = [...(d.warnings?.() ?? [])];
    if (consumerDead === null || (d.writer && wbDead === null)) warnings.push(`Redis did not answer within ${STATUS_REDIS_WAIT_MS} ms: dead letter counts unknown`);
    const enqueue = d.enqueueWait?.() ?? null;
    if (enqueue) warnings.push(enqueueWarning(enqueue));
    return {
      sources: [await sourceStatus()],
      enqueue,
      writeback: d.writer ? { enabled: true, ...d.writer.status(), deadLetters: wbDead, emergency: d.emergency?.() ?? null } : { enabled: false, services: [] },
      consumerDeadLetters: consumerDead,
      topics: d.topics(),
      warnings,
    };
  });

  deadLetterRoutes(app, { base: '/api/cdc', channel: 'cdc', desk: d.deadLetters, audit: d.control.audit, replayed: (queue) => d.log.info({ queue }, 'a dead letter replayed') });

  await app.listen({ host: config.CDC_API_HOST, port: config.CDC_API_PORT });
  running.port = (app.server.address() as { port: number }).port;
  return running;
}

export function enqueueWarning(w: EnqueueWait): string {
  return `change events wait for Redis since ${w.waitingSince} (${w.reason}): nothing is enqueued or acknowledged meanwhile, /readyz answers 503`;
}
