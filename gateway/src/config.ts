import { fileURLToPath } from 'node:url';
import { configSchema, Env, loadConfig } from '@ficus/contracts';
import { Type, type Static } from '@sinclair/typebox';

const DEFAULT_RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));

export const GatewayConfigSchema = configSchema({
  FICUS_GATEWAY_HOST: Env.string('0.0.0.0', 'address the data plane listens on'),
  FICUS_GATEWAY_PORT: Env.port(8080, 'data plane port (also serves /healthz, /readyz, /metrics)'),
  FICUS_RULES_DIR: Env.string(DEFAULT_RULES_DIR, 'folder of routing rule files (*.yaml)'),
  FICUS_RULES_POLL_MS: Env.integer(5_000, 'safety-net re-read of the rule folder, besides file watching', 100),
  FICUS_ROUTE_HEADER: Env.boolean(true, 'add x-ficus-route to every proxied answer'),
  FICUS_TRUST_FORWARDED: Env.boolean(false, 'keep X-Forwarded-Proto/Host from a trusted load balancer in front'),
  FICUS_ACCESS_LOG: Type.Unsafe<'all' | 'errors' | 'off'>({
    type: 'string',
    enum: ['all', 'errors', 'off'],
    default: 'errors',
    description: 'one log line per request (rule, target, status, time; never the path or query): all, errors (status >= 400 and fallbacks), off',
  }),
  FICUS_CLIENT_REQUEST_TIMEOUT_MS: Env.integer(600_000, 'longest time to receive a whole request from a client (large uploads)'),
  FICUS_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, wait this long for in-flight requests'),
  LOG_LEVEL: Env.level(),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(GatewayConfigSchema, env);
}
