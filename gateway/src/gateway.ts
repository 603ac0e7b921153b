/**
 * Assembles the data plane: rules (from the rule folder, watched), upstream pools, the proxy,
 * the WebSocket passthrough and the gateway's own endpoints, on one port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { createAccessLogger, type Logger, type RuleSet } from '@ficus/contracts';
import type { GatewayConfig } from './config.js';
import { GatewayMetrics } from './ops/metrics.js';
import { isOpsPath, registerOpsRoutes } from './ops/ops-routes.js';
import { proxyRequest, type ProxyRuntime } from './proxy/exchange.js';
import { createUpgradeHandler } from './proxy/websocket.js';
import { Router } from './routing/router.js';
import { RulesWatcher } from './rules-watcher.js';
import { resolveUpstreams, UpstreamRegistry } from './upstreams/registry.js';

export interface RunningGateway {
  port: number;
  runtime: ProxyRuntime;
  rules: RulesWatcher;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const upstreams = new UpstreamRegistry(log);
  const metrics = new GatewayMetrics(() => upstreams);
  const runtime: ProxyRuntime = {
    router: new Router({ upstreams: {}, http: [] }),
    upstreams,
    metrics,
    log,
    accessLog: config.FICUS_ACCESS_LOG === 'off' ? undefined : createAccessLogger('gateway', config.LOG_LEVEL),
    accessLogAll: config.FICUS_ACCESS_LOG === 'all',
    options: { routeHeader: config.FICUS_ROUTE_HEADER, trustForwarded: config.FICUS_TRUST_FORWARDED, proto: 'http' },
  };

  const apply = (ruleSet: RuleSet) => {
    // upstreams first, so the new router never names a pool that does not exist yet
    upstreams.apply(resolveUpstreams(ruleSet, env));
    runtime.router = new Router(ruleSet);
    metrics.ruleReloads.inc({ result: 'applied' });
    metrics.rulesCount.set(ruleSet.http.length);
    metrics.rulesLoadedAt.set(Date.now() / 1000);
  };
  const rules = new RulesWatcher(config.FICUS_RULES_DIR, config.FICUS_RULES_POLL_MS, log, apply, () => metrics.ruleReloads.inc({ result: 'refused' }));
  await rules.load();

  let shuttingDown = false;
  const app = Fastify({
    logger: false,
    serverFactory: (opsHandler) => {
      const server = createServer({ requestTimeout: config.FICUS_CLIENT_REQUEST_TIMEOUT_MS, keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
        if (isOpsPath(req.url ?? '')) opsHandler(req, res);
        else proxyRequest(runtime, req, res);
      });
      server.on('upgrade', createUpgradeHandler(runtime));
      return server;
    },
  });
  registerOpsRoutes(app, { metrics, upstreams, rules: rules.status, ruleCount: () => runtime.router.rules.length, shuttingDown: () => shuttingDown });
  await app.listen({ host: config.FICUS_GATEWAY_HOST, port: config.FICUS_GATEWAY_PORT });
  rules.start();
  const server = app.server as Server;
  const port = (server.address() as AddressInfo).port;
  log.info({ port, rules: runtime.router.rules.length, upstreams: upstreams.all().map((u) => u.name) }, 'gateway listening');

  return {
    port,
    runtime,
    rules,
    async close() {
      shuttingDown = true;
      rules.stop();
      const force = setTimeout(() => server.closeAllConnections(), config.FICUS_SHUTDOWN_TIMEOUT_MS);
      force.unref();
      // keep-alive connections whose last request finishes during shutdown are closed as soon
      // as they are idle, not when the client's keep-alive would have ended them
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      idle.unref();
      await app.close();
      clearTimeout(force);
      clearInterval(idle);
      await upstreams.close();
    },
  };
}
