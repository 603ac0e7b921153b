/**
 * Assembles the HL7 adapter: the message store, the rules (HL7 section), the MLLP listener,
 * the dispatcher that delivers to the legacy inbound and the new services' queues, and its HTTP
 * endpoints (health, metrics, /api/hl7).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { DeadLetterDesk, deadLetterRoutes } from '@ficus/contracts/queues';
import {
  Authenticator,
  FileRuleSource,
  hl7JobSummary,
  hl7QueuePrefix,
  installAdminAuth,
  loadUpstreamTls,
  openStore,
  ParityRecorder,
  ParityStore,
  runMigrations,
  sendProblem,
  StoreRuleSource,
  trustedProxies,
  upstreamUrlOverride,
  type Logger,
  type OpenStore,
  type RuleSet,
  type RuleSource,
  type UpstreamTlsMaterial,
} from '@ficus/contracts';
import { emergencyFile, messageStoreUrl, processingIds, ruleStoreUrl, tlsOptions, type AdapterConfig } from './config.js';
import { DeliveryStore } from './delivery/delivery-store.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { answerText, temporaryAnswers } from './delivery/legacy-answers.js';
import { Retention } from './store/retention.js';
import { HttpsAgents } from './parity/https-agents.js';
import { QueuePublisher } from './delivery/queue-publisher.js';
import { QueryRelay } from './intake/query-relay.js';
import { AppAcks, settledAnswer } from './intake/app-acks.js';
import { Intake } from './intake/intake.js';
import { IntakeStats } from './intake/intake-stats.js';
import { startListener, type RunningListener } from './listener/mllp-listener.js';
import { emergencyRoute } from './ops/emergency-route.js';
import { hl7Routes } from './ops/hl7-api.js';
import { withLoggedControlIds } from './ops/logged-control-ids.js';
import { AdapterMetrics } from './ops/metrics.js';
import { Hl7Parity } from './parity/hl7-parity.js';
import { openHl7Emergency, type Hl7EmergencyFile } from './routing/hl7-emergency.js';
import { Hl7Router } from './routing/hl7-router.js';
import { MessageStore } from './store/message-store.js';
import { preferMrnAuthorities } from '@ficus/hl7-protocol';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/hl7', import.meta.url));

export interface RunningAdapter {
  port: number;
  apiPort: number;
  dispatcher: Dispatcher;
  retention: Retention;
  /** HL7 parity counts of this instance (mode dual with lookups) */
  parity: ParityRecorder;
  close(): Promise<void>;
}

export async function startAdapter(config: AdapterConfig, given: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunningAdapter> {
  // control ids may be built from MRNs: every line below shows them hashed unless HL7_LOG_CONTROL_IDS=plain
  const log = withLoggedControlIds(given, config);
  // this hospital's MRNs among other facilities' in PID-3 (a process-wide setting of the HL7 readers)
  if (config.HL7_MRN_AUTHORITIES) preferMrnAuthorities(config.HL7_MRN_AUTHORITIES.split(','));
  const storeUrl = messageStoreUrl(config);
  await runMigrations({ databaseUrl: storeUrl, dir: MIGRATIONS_DIR, table: 'hl7_pgmigrations', log });
  const pool = new pg.Pool({ connectionString: storeUrl, max: 16, connectionTimeoutMillis: 5_000 });
  pool.on('error', (err) => log.warn({ err: err.message }, 'message store connection lost'));
  const deliveryStore = new DeliveryStore(pool);

  // the rules: the HL7 section, and the legacy inbounds' addresses
  let ruleSet: RuleSet = { upstreams: {}, http: [] };
  let router = new Hl7Router(ruleSet);
  /** the mllps:// inbounds' certificates, read when the rules are applied (a rule reload reads them again) */
  let legacyTls = new Map<string, UpstreamTlsMaterial>();
  /** the https:// services' certificates, for the parity lookups */
  const httpsAgents = new HttpsAgents(log);
  /** the rules as served: the source's, with the emergency override on top (pinned: held in legacy by it) */
  const install = (r: RuleSet, pinned: ReadonlySet<string>) => {
    const tls = new Map<string, UpstreamTlsMaterial>();
    for (const [name, u] of Object.entries(r.upstreams)) {
      const material = u.tls && /^mllps:/i.test(upstreamUrlOverride(name, env) ?? u.url) ? loadUpstreamTls(u.tls, env) : undefined;
      if (material) tls.set(name, material);
    }
    httpsAgents.apply(r, env);
    ruleSet = r;
    router = new Hl7Router(r, pinned);
    legacyTls = tls;
  };
  /** an upstream's address: the environment's override, else the current rules' */
  const upstreamUrl = (upstream: string) => upstreamUrlOverride(upstream, env) ?? ruleSet.upstreams[upstream]?.url;
  const upstreamTls = (upstream: string) => legacyTls.get(upstream);
  const control: OpenStore = await openStore({ url: ruleStoreUrl(config), rulesDir: config.FICUS_RULES_DIR, stateDir: config.FICUS_STATE_DIR, adminToken: undefined, bootstrapToken: false, log });
  // read before the first rules apply: an instance restarted mid-incident starts with it
  const emergency = openHl7Emergency({ file: emergencyFile(config), log, install, audit: control.audit });
  await emergency.load();
  const apply = (r: RuleSet) => emergency.serve(r);
  const rules: RuleSource =
    config.FICUS_RULES_SOURCE === 'store'
      ? new StoreRuleSource({
          store: control.store,
          redisUrl: config.REDIS_URL,
          cacheFile: path.join(config.FICUS_STATE_DIR, 'last-good-rules.json'),
          checkMs: config.FICUS_RULES_CHECK_MS,
          log,
          apply: (applied) => apply(applied.ruleSet),
        })
      : new FileRuleSource(config.FICUS_RULES_DIR, config.FICUS_RULES_POLL_MS, log, apply, undefined, undefined, config.FICUS_RULES_SETTLE_MS);
  await rules.load();
  rules.start();
  emergency.start();

  const publisher = new QueuePublisher({ redisUrl: config.REDIS_URL, prefix: config.HL7_QUEUE_PREFIX, timeoutMs: config.HL7_QUEUE_TIMEOUT_MS });
  const services = () => router.targets().flatMap((t) => (t.startsWith('queue:') ? [t.slice('queue:'.length)] : []));
  const metrics = new AdapterMetrics({ deliveryCounts: () => deliveryStore.counts(), queueDepths: () => publisher.depths(services(), config.HL7_PARTITIONS), emergencyPinned: () => emergency.pinned() });
  // the services' dead letters of what this adapter queued for them (listed, replayed, discarded through the API)
  const deadLetters = DeadLetterDesk.open(config.REDIS_URL, {
    bullPrefix: config.HL7_QUEUE_PREFIX,
    families: () => services().map((s) => ({ prefix: hl7QueuePrefix(s), partitions: config.HL7_PARTITIONS, describe: hl7JobSummary })),
  });
  const stats = new IntakeStats(pool, log);
  // new messages wake the dispatcher (made below)
  const messages = new MessageStore(pool, (lanes) => dispatcher.committed(lanes), config.HL7_STORE_PARALLEL);
  const appAcks = new AppAcks({
    log,
    lookup: (ids) => messages.authoritative(ids),
    // in mode new, the service's own outcome (not the queue's taking the job) answers the application ACK
    serviceOutcome: (service, partition, jobId) => publisher.outcome(service, partition, jobId),
    recordAnswer: (messageId, target, answer) => deliveryStore.serviceAnswered(messageId, target, answer),
    serviceWaitMs: config.HL7_SERVICE_ACK_WAIT_MS,
    sent: (code) => {
      metrics.acks.inc({ code });
      stats.count(code, 'application');
    },
  });
  // mode dual with parity lookups: compare what legacy and the new service hold after a message
  const parityRecorder = new ParityRecorder({ store: new ParityStore(control.pool), log });
  parityRecorder.start();
  const hl7Parity = new Hl7Parity({ pool, recorder: parityRecorder, rules: () => ruleSet, upstreamUrl, dispatcherFor: (u) => httpsAgents.for(u), log });
  const dispatcher = new Dispatcher({
    pool,
    deliveries: deliveryStore,
    publisher,
    legacyUrl: upstreamUrl,
    legacyTls: upstreamTls,
    metrics,
    log,
    connectTimeoutMs: config.HL7_LEGACY_CONNECT_TIMEOUT_MS,
    ackTimeoutMs: config.HL7_LEGACY_ACK_TIMEOUT_MS,
    maxBackoffMs: config.HL7_MAX_BACKOFF_MS,
    idlePollMs: config.HL7_DISPATCH_POLL_MS,
    temporary: temporaryAnswers(config.HL7_LEGACY_RETRY_ON),
    settled: (d, outcome, answer) => {
      // on a service's queue: its application ACK waits for what the service makes of it
      if (d.target.startsWith('queue:')) appAcks.published(d.messageId, d.target, d.partition);
      // read from the text the store keeps, so an application ACK sent now and one sent later (to a resend) say the same
      else appAcks.settled(d.messageId, d.target, settledAnswer(d.target, outcome, answer ? answerText(answer) : null)!);
      hl7Parity.settled(d, outcome);
    },
  });
  const queries = new QueryRelay({
    legacyUrl: upstreamUrl,
    legacyTls: upstreamTls,
    connectTimeoutMs: config.HL7_LEGACY_CONNECT_TIMEOUT_MS,
    answerTimeoutMs: config.HL7_LEGACY_ACK_TIMEOUT_MS,
  });
  const intake = new Intake({
    store: messages,
    router: () => router,
    partitions: config.HL7_PARTITIONS,
    metrics,
    log,
    appAcks,
    stats,
    queries,
    batchAcks: config.HL7_BATCH_ACK,
    policy: { processingIds: processingIds(config), mrnAuthoritiesNamed: config.HL7_MRN_AUTHORITIES.split(',').some((a) => a.trim() !== '') },
  });
  stats.start();
  appAcks.start();

  const api = await startApi(config, {
    pool,
    control,
    metrics,
    rules,
    emergency,
    log,
    replayed: () => dispatcher.nudge(),
    knownTargets: () => router.targets(),
    flushStats: () => stats.flush(),
    deadLetters,
    serviceUnfinished: (service, partitions) => publisher.unfinished(service, partitions),
  });
  const listener: RunningListener = await startListener(config.HL7_HOST, config.HL7_PORT, {
    intake,
    metrics,
    log,
    maxFrameBytes: config.HL7_MAX_FRAME_BYTES,
    idleTimeoutMs: config.HL7_IDLE_TIMEOUT_MS,
    maxQueuedFrames: config.HL7_MAX_QUEUED_FRAMES,
    // half the shutdown's time: the dispatcher and the stores close after the listener, within the rest
    drainMs: Math.floor(config.FICUS_SHUTDOWN_TIMEOUT_MS / 2),
    tls: tlsOptions(config),
  });
  dispatcher.start();
  const retention = new Retention({ pool, days: config.HL7_RETENTION_DAYS, log, purged: (what, n) => metrics.purged.inc({ what }, n) });
  retention.start();
  log.info({ port: listener.port, apiPort: api.port, tls: Boolean(tlsOptions(config)), partitions: config.HL7_PARTITIONS, hl7Rules: router.rules.length }, 'HL7 adapter listening');

  return {
    port: listener.port,
    apiPort: api.port,
    dispatcher,
    parity: parityRecorder,
    retention,
    async close() {
      await listener.close();
      queries.close();
      await retention.stop();
      await dispatcher.stop();
      appAcks.stop();
      await stats.stop();
      await hl7Parity.stop();
      await httpsAgents.close();
      await parityRecorder.stop();
      await rules.stop();
      await emergency.stop();
      await api.app.close();
      await deadLetters.close();
      await publisher.close();
      await pool.end();
      await control.close();
    },
  };
}

async function startApi(
  config: AdapterConfig,
  d: {
    pool: pg.Pool;
    control: OpenStore;
    metrics: AdapterMetrics;
    rules: RuleSource;
    emergency: Pick<Hl7EmergencyFile, 'status'>;
    log: Logger;
    replayed: () => void;
    knownTargets: () => string[];
    flushStats: () => Promise<void>;
    deadLetters: DeadLetterDesk;
    serviceUnfinished: (service: string, partitions: readonly number[]) => Promise<boolean>;
  },
): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false, trustProxy: trustedProxies(config.HL7_API_TRUSTED_PROXIES) });
  const oidc =
    config.FICUS_OIDC_ISSUER && config.FICUS_OIDC_AUDIENCE && config.FICUS_OIDC_JWKS_URL
      ? { issuer: config.FICUS_OIDC_ISSUER, audience: config.FICUS_OIDC_AUDIENCE, jwksUrl: config.FICUS_OIDC_JWKS_URL, roleClaim: config.FICUS_OIDC_ROLE_CLAIM }
      : undefined;
  installAdminAuth(app, new Authenticator(d.control.tokens, oidc), d.control.audit, d.log);
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation || (err.statusCode && err.statusCode < 500)) return sendProblem(reply, err.statusCode ?? 400, 'invalid-request', 'Invalid request', err.message);
    d.log.error({ err: err.message }, 'HL7 API request failed');
    return sendProblem(reply, 500, 'internal-error', 'Internal error', 'the request failed; see the adapter log');
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const store = await d.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    const rules = d.rules.status();
    const ready = store && rules.state !== 'starting';
    // an emergency override is said, not a reason to stop taking messages (it is how the adapter serves well)
    const emergency = d.emergency.status();
    return reply.code(ready ? 200 : 503).send({
      status: ready ? (rules.state === 'degraded' ? 'degraded' : 'ready') : 'not-ready',
      messageStore: store ? 'reachable' : 'unreachable',
      rules,
      ...(emergency.override || emergency.lastRefused ? { emergency } : {}),
    });
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', d.metrics.registry.contentType).send(await d.metrics.registry.metrics()));
  emergencyRoute(app, d.emergency);
  hl7Routes(app, { pool: d.pool, audit: d.control.audit, replayed: d.replayed, knownTargets: d.knownTargets, flushStats: d.flushStats, serviceDeadLetters: d.deadLetters, serviceUnfinished: d.serviceUnfinished, logIdKey: config.FICUS_LOG_ID_KEY });
  deadLetterRoutes(app, { base: '/api/hl7', channel: 'hl7', desk: d.deadLetters, audit: d.control.audit, replayed: (queue) => d.log.info({ queue }, 'a service dead letter replayed') });
  await app.listen({ host: config.HL7_API_HOST, port: config.HL7_API_PORT });
  return { app, port: (app.server.address() as { port: number }).port };
}
