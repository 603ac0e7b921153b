/**
 * The gateway's own endpoints, served by fastify on the data-plane port: /healthz (the process
 * is alive), /readyz (rules loaded and not shutting down; upstream states for humans) and
 * /metrics (Prometheus).
 */
import type { FastifyInstance } from 'fastify';
import type { EmergencyFile } from './emergency-file.js';
import type { GatewayMetrics } from './metrics.js';
import type { RuleSource } from '@ficus/contracts';
import type { UpstreamRegistry } from '../upstreams/registry.js';

export const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export function isOpsPath(url: string): boolean {
  // cheap pre-check: every ops path is short and starts with "/h", "/r" or "/m"
  if (url.length > 64) return false;
  const q = url.indexOf('?');
  return OPS_PATHS.has(q === -1 ? url : url.slice(0, q));
}

export interface OpsState {
  metrics: GatewayMetrics;
  upstreams: UpstreamRegistry;
  rules: RuleSource;
  emergency: Pick<EmergencyFile, 'status'>;
  ruleCount: () => number;
  shuttingDown: () => boolean;
}

export function registerOpsRoutes(app: FastifyInstance, state: OpsState): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const rules = state.rules.status();
    const status = state.shuttingDown() ? 'shutting-down' : rules.state;
    // degraded still serves (the last good rules): only starting and stopping take it out of rotation;
    // an emergency override is said, not a reason to stop serving (it is how the instance serves well)
    const ready = status === 'ready' || status === 'degraded';
    const emergency = state.emergency.status();
    return reply.code(ready ? 200 : 503).send({
      status,
      rules: { ...rules, count: state.ruleCount() },
      ...(emergency.override || emergency.lastRefused ? { emergency } : {}),
      upstreams: state.upstreams.all().map((u) => ({ name: u.name, health: u.health.health, circuit: u.breaker.current, lastError: u.health.lastError })),
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await state.metrics.registry.metrics();
    return reply.header('content-type', state.metrics.registry.contentType).send(text);
  });
}
