/**
 * Assembles the gateway: the data plane (rules, upstream pools, proxy, WebSocket passthrough,
 * its own endpoints) on one port and, with a rule store, the admin API on another.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Authenticator, createAccessLogger, FileRuleSource, type Logger, openStore, type OpenStore, ParityRecorder, ParityStore, RULES_CHANNEL, type RuleSet, type RuleSource, StoreRuleSource } from '@ficus/contracts';
import { buildAdminApp } from './admin/admin-app.js';
import { keyRequestIdHashes } from './proxy/request-id.js';
import { componentsFrom } from './admin/component-forwarder.js';
import { ControlPlane } from './admin/control-plane.js';
import type { InstanceView } from './admin/routes/upstream-routes.js';
import { storeUrlOf, type GatewayConfig } from './config.js';
import { EMERGENCY_FILE_NAME, EmergencyFile } from './ops/emergency-file.js';
import { GatewayMetrics } from './ops/metrics.js';
import { drainTimer, LAST_ANSWERS_MS } from './ops/shutdown.js';
import { UpgradedSockets } from './ops/upgraded-sockets.js';
import { isOpsPath, registerOpsRoutes } from './ops/ops-routes.js';
import { TrafficFlusher } from './ops/traffic.js';
import { answerClientError } from './proxy/client-errors.js';
import { proxyRequest } from './proxy/proxy-request.js';
import type { ProxyRuntime } from './proxy/runtime.js';
import { refuseConnect } from './proxy/problem-response.js';
import { Shadows } from './proxy/shadow.js';
import { createUpgradeHandler } from './proxy/websocket.js';
import { RecentWrites } from './routing/recent-writes.js';
import { Router, type RouterOptions } from './routing/router.js';
import { resolveUpstreams, UpstreamRegistry } from './upstreams/registry.js';

export interface RunningGateway {
  port: number;
  /** the admin API's port, when it runs */
  adminPort: number | undefined;
  runtime: ProxyRuntime;
  rules: RuleSource;
  /** shadow comparisons of this instance, flushed to the store */
  recorder: ParityRecorder;
  traffic: TrafficFlusher | undefined;
  close(): Promise<void>;
}

function applyRules(runtime: ProxyRuntime, upstreams: UpstreamRegistry, metrics: GatewayMetrics, env: NodeJS.ProcessEnv, routing: RouterOptions, ruleSet: RuleSet, pinned: ReadonlySet<string>): void {
  // upstreams first, so the new router never names a pool that does not exist yet
  upstreams.apply(resolveUpstreams(ruleSet, env));
  runtime.router = new Router(ruleSet, routing, pinned);
  metrics.ruleReloads.inc({ result: 'applied' });
  metrics.rulesCount.set(ruleSet.http.length);
  metrics.rulesLoadedAt.set(Date.now() / 1000);
}

const routingOf = (config: GatewayConfig): RouterOptions => ({ caseInsensitivePaths: config.FICUS_PATHS_CASE_INSENSITIVE, encodedSlashes: config.FICUS_ENCODED_SLASHES });

async function startAdmin(config: GatewayConfig, opened: OpenStore, parity: ParityStore, instance: InstanceView, log: Logger, shutdown: AbortSignal): Promise<{ app: FastifyInstance; port: number; publisher: Redis | undefined }> {
  const publisher = config.REDIS_URL ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 200, 2_000) }) : undefined;
  publisher?.on('error', () => undefined); // the store check covers a missed announcement
  const announce = (version: number) => void publisher?.publish(RULES_CHANNEL, JSON.stringify({ version })).catch(() => undefined);
  const oidc =
    config.FICUS_OIDC_ISSUER && config.FICUS_OIDC_AUDIENCE && config.FICUS_OIDC_JWKS_URL
      ? { issuer: config.FICUS_OIDC_ISSUER, audience: config.FICUS_OIDC_AUDIENCE, jwksUrl: config.FICUS_OIDC_JWKS_URL, roleClaim: config.FICUS_OIDC_ROLE_CLAIM }
      : undefined;
  const cp = new ControlPlane(opened.store, opened.audit, announce, log, parity, routingOf(config));
  const app = await buildAdminApp({
    cp,
    store: opened.store,
    audit: opened.audit,
    tokens: opened.tokens,
    auth: new Authenticator(opened.tokens, oidc),
    log,
    storeReachable: opened.reachable,
    trustProxy: config.FICUS_ADMIN_TRUST_PROXY,
    instance,
    routing: routingOf(config),
    parity,
    dashboardDir: config.FICUS_DASHBOARD_DIR,
    components: componentsFrom(config, shutdown),
  });
  await app.listen({ host: config.FICUS_ADMIN_HOST, port: config.FICUS_ADMIN_PORT });
  const port = (app.server.address() as AddressInfo).port;
  log.info({ port, oidc: oidc ? oidc.issuer : 'off', dashboard: `/admin` }, 'admin API listening (dashboard at /admin)');
  return { app, port, publisher };
}

export async function startGateway(config: GatewayConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  keyRequestIdHashes(config.FICUS_LOG_ID_KEY);
  const storeUrl = storeUrlOf(config);
  const useStore = config.FICUS_RULES_SOURCE === 'store' || (config.FICUS_RULES_SOURCE === 'auto' && storeUrl !== undefined);
  if (useStore && !storeUrl) throw new Error('FICUS_RULES_SOURCE=store needs FICUS_STORE_URL or DATABASE_URL');
  const opened: OpenStore | undefined = useStore
    ? await openStore({ url: storeUrl!, rulesDir: config.FICUS_RULES_DIR, stateDir: config.FICUS_STATE_DIR, adminToken: config.FICUS_ADMIN_TOKEN, log })
    : undefined;
  // parity and traffic figures add up across instances in the store's database
  const parityStore = opened ? new ParityStore(opened.pool) : undefined;
  const recorder = new ParityRecorder({ store: parityStore, log, flushMs: config.FICUS_PARITY_FLUSH_MS });

  const upstreams = new UpstreamRegistry(log);
  const metrics = new GatewayMetrics(() => upstreams);
  const options = { routeHeader: config.FICUS_ROUTE_HEADER, trustForwarded: config.FICUS_TRUST_FORWARDED, proto: 'http' as const, requestBufferBytes: config.FICUS_REQUEST_BUFFER_BYTES };
  const shadows = new Shadows({ upstreams, recorder, log, forwarding: { trustForwarded: options.trustForwarded, proto: options.proto } });
  metrics.addShadowMetrics(recorder, () => shadows.inflightAll());
  const runtime: ProxyRuntime = {
    router: new Router({ upstreams: {}, http: [] }, routingOf(config)),
    upstreams,
    metrics,
    log,
    accessLog: config.FICUS_ACCESS_LOG === 'off' ? undefined : createAccessLogger('gateway', config.LOG_LEVEL),
    accessLogAll: config.FICUS_ACCESS_LOG === 'all',
    options,
    shadows,
    recentWrites: new RecentWrites(config.FICUS_READ_AFTER_WRITE_MS),
  };

  // read before the first rules apply: an instance restarted mid-incident starts with it
  const emergency = new EmergencyFile({
    file: config.FICUS_EMERGENCY_FILE ?? path.join(config.FICUS_STATE_DIR, EMERGENCY_FILE_NAME),
    log,
    metrics,
    install: (ruleSet, pinned) => applyRules(runtime, upstreams, metrics, env, routingOf(config), ruleSet, pinned),
    ...(opened ? { audit: opened.audit } : {}),
  });
  await emergency.load();

  let rules: RuleSource;
  if (opened) {
    rules = new StoreRuleSource({
      store: opened.store,
      redisUrl: config.REDIS_URL,
      cacheFile: path.join(config.FICUS_STATE_DIR, 'last-good-rules.json'),
      checkMs: config.FICUS_RULES_CHECK_MS,
      log,
      apply: (applied) => {
        emergency.serve(applied.ruleSet);
        metrics.rulesVersion.set(applied.version);
        metrics.rulesPropagation.set(Math.max(0, (Date.now() - Date.parse(applied.committedAt)) / 1000));
      },
      storeState: (up) => metrics.ruleStoreUp.set(up ? 1 : 0),
    });
  } else {
    rules = new FileRuleSource(
      config.FICUS_RULES_DIR,
      config.FICUS_RULES_POLL_MS,
      log,
      (ruleSet) => emergency.serve(ruleSet),
      () => metrics.ruleReloads.inc({ result: 'refused' }),
      routingOf(config),
      config.FICUS_RULES_SETTLE_MS,
    );
  }
  try {
    await rules.load();
  } catch (e) {
    await opened?.close();
    throw e;
  }
  recorder.start();
  const traffic = parityStore ? new TrafficFlusher(metrics, parityStore, log, config.FICUS_PARITY_FLUSH_MS) : undefined;
  traffic?.start();

  let shuttingDown = false;
  const upgraded = new UpgradedSockets();
  // aborts the admin API's passthroughs at the end of the drain
  const drained = new AbortController();
  const app = Fastify({
    logger: false,
    // what Node's parser refuses gets the gateway's problem+json, not fastify's own JSON
    clientErrorHandler: (err, socket) => answerClientError(runtime, err as Error & { code?: string }, socket as Socket),
    serverFactory: (opsHandler) => {
      // requireHostHeader off: Node's own refusal of an HTTP/1.1 request without Host is a bare 400,
      // uncounted and unlogged; proxy-request refuses it as every other Host defect (host-header.ts)
      const server = createServer({ requestTimeout: config.FICUS_CLIENT_REQUEST_TIMEOUT_MS, keepAliveTimeout: 65_000, requireHostHeader: false }, (req: IncomingMessage, res: ServerResponse) => {
        if (isOpsPath(req.url ?? '')) opsHandler(req, res);
        else proxyRequest(runtime, req, res);
      });
      // no count of its own: Node kept the first 1,000 or so headers and dropped the rest unseen,
      // a Content-Length among them (the upstream got a POST without its body); the head's
      // 16 KiB bounds it, and a head over that is refused 431
      server.maxHeadersCount = 0;
      server.on('upgrade', createUpgradeHandler(runtime, server));
      upgraded.track(server);
      server.on('connect', refuseConnect);
      return server;
    },
  });
  registerOpsRoutes(app, { metrics, upstreams, rules, emergency, ruleCount: () => runtime.router.rules.length, shuttingDown: () => shuttingDown });
  await app.listen({ host: config.FICUS_GATEWAY_HOST, port: config.FICUS_GATEWAY_PORT });
  rules.start();
  emergency.start();
  const admin = opened && parityStore && config.FICUS_ADMIN_ENABLED ? await startAdmin(config, opened, parityStore, { upstreams, served: () => ({ rules: runtime.router.rules, status: rules.status() }), emergency }, log, drained.signal) : undefined;
  const server = app.server as Server;
  const port = (server.address() as AddressInfo).port;
  log.info({ port, rules: runtime.router.rules.length, source: rules.status().kind, version: rules.status().version, upstreams: upstreams.all().map((u) => u.name) }, 'gateway listening');

  return {
    port,
    adminPort: admin?.port,
    runtime,
    rules,
    recorder,
    traffic,
    async close() {
      shuttingDown = true;
      await rules.stop();
      await emergency.stop();
      const adminServer = admin?.app.server;
      // keep-alive connections whose last request finishes during shutdown are closed as soon
      // as they are idle, not when the client's keep-alive would have ended them
      const idle = setInterval(() => {
        server.closeIdleConnections();
        adminServer?.closeIdleConnections();
      }, 100);
      idle.unref();
      // the drain's end (shutdown.ts): what has not finished is ended
      const drain = drainTimer(config.FICUS_SHUTDOWN_TIMEOUT_MS, () => {
        server.closeAllConnections();
        drained.abort();
        void upgraded.closeAll(LAST_ANSWERS_MS);
        if (adminServer) setTimeout(() => adminServer.closeAllConnections(), LAST_ANSWERS_MS).unref();
      });
      // the admin API and the data plane drain side by side, within the one bound
      await Promise.all([admin?.app.close().then(() => admin.publisher?.disconnect()), app.close()]);
      drain.cancel();
      clearInterval(idle);
      await upstreams.close();
      await recorder.stop().catch(() => undefined);
      await traffic?.stop().catch(() => undefined);
      await opened?.close();
    },
  };
}
