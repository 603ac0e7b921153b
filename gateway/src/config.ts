import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { configSchema, Env, loadConfig, RULE_FILES_SETTLE_MS, withDatabase } from '@ficus/contracts';
import { COMPONENT_TIMEOUT_MAX_MS, COMPONENT_TIMEOUT_MS } from './admin/component-forwarder.js';
import { ENCODED_SLASHES, type EncodedSlashes } from './routing/request-target.js';
import { DEFAULT_REQUEST_BUFFER_BYTES } from './proxy/request-buffer.js';

const DEFAULT_RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const DEFAULT_STATE_DIR = fileURLToPath(new URL('../../.ficus/gateway', import.meta.url));

export const GatewayConfigSchema = configSchema({
  FICUS_GATEWAY_HOST: Env.string('0.0.0.0', 'address the data plane listens on'),
  FICUS_GATEWAY_PORT: Env.port(8080, 'data plane port (also serves /healthz, /readyz, /metrics)'),
  FICUS_RULES_DIR: Env.string(DEFAULT_RULES_DIR, 'rule files (*.yaml): the rules themselves without a store, the first version with one'),
  FICUS_RULES_SOURCE: Type.Unsafe<'auto' | 'store' | 'files'>({
    type: 'string',
    enum: ['auto', 'store', 'files'],
    default: 'auto',
    description: 'where the rules come from: the rule store, the rule files, or auto (the store when a database is configured)',
  }),
  FICUS_RULES_POLL_MS: Env.integer(5_000, 'files: safety-net re-read of the rule folder, besides file watching', 100),
  FICUS_RULES_SETTLE_MS: Env.ruleFilesSettleMs(RULE_FILES_SETTLE_MS),
  FICUS_RULES_CHECK_MS: Env.integer(2_000, 'store: safety-net check of the store version, besides Redis notifications', 100),
  DATABASE_URL: Env.optionalString('PostgreSQL server; the rule store lives in its database "ficus_gateway"'),
  FICUS_STORE_URL: Env.optionalString('the rule store database itself (overrides DATABASE_URL)'),
  REDIS_URL: Env.optionalString('Redis for rule change notifications'),
  FICUS_STATE_DIR: Env.string(DEFAULT_STATE_DIR, 'where the last good copy of the rules and the first admin token are kept'),
  FICUS_EMERGENCY_FILE: Env.optionalString(
    'the emergency override file (default: $FICUS_STATE_DIR/emergency-legacy.yaml): `rules: [id, …]` or `rules: all` go to legacy whatever the rule store serves, until it is removed',
  ),
  FICUS_ADMIN_ENABLED: Env.boolean(true, 'serve the admin API (rule store only)'),
  FICUS_ADMIN_HOST: Env.string('0.0.0.0', 'address the admin API listens on'),
  FICUS_ADMIN_PORT: Env.port(8081, 'admin API port'),
  FICUS_LOG_ID_KEY: Env.optionalString('a secret shared by every gateway instance: client request ids the logs do not show as they are are logged as an HMAC under it (hmac:) instead of a plain SHA-256 (sha256:)'),
  FICUS_ADMIN_TOKEN: Env.optionalString('a first admin token, stored (hashed) when no token with this secret exists'),
  FICUS_ADMIN_TRUST_PROXY: Env.boolean(false, 'admin API: take the client address from X-Forwarded-For (behind a trusted proxy)'),
  FICUS_OIDC_ISSUER: Env.optionalString('OIDC: accept JWTs from this issuer'),
  FICUS_OIDC_AUDIENCE: Env.optionalString('OIDC: the audience the JWTs must name'),
  FICUS_OIDC_JWKS_URL: Env.optionalString("OIDC: the issuer's key set (JWKS) URL"),
  FICUS_OIDC_ROLE_CLAIM: Env.string('ficus_role', 'OIDC: the claim holding the role (viewer, operator, admin; a string or a list)'),
  FICUS_HL7_API_URL: Env.string('http://127.0.0.1:8091', "the HL7 adapter's API: the admin API passes /api/hl7/* through to it"),
  FICUS_CDC_API_URL: Env.string('http://127.0.0.1:8092', "the CDC reader's API: the admin API passes /api/cdc/* through to it"),
  FICUS_PATIENT_SERVICE_API_URL: Env.string('http://127.0.0.1:8101', 'patient-service (its own port): the admin API passes /api/services/patient-service/* (its conflicts) through to it'),
  FICUS_RESULTS_SERVICE_API_URL: Env.string('http://127.0.0.1:8102', 'results-service (its own port): the admin API passes /api/services/results-service/* (its conflicts) through to it'),
  FICUS_COMPONENT_TIMEOUT_MS: Type.Integer({
    default: COMPONENT_TIMEOUT_MS,
    minimum: 1_000,
    maximum: COMPONENT_TIMEOUT_MAX_MS,
    description: "admin API: how long the HL7 adapter's or CDC reader's API is waited for before a 504 (below the CLI's 45 s, so the CLI hears it)",
  }),
  FICUS_PATHS_CASE_INSENSITIVE: Env.boolean(false, 'match literal path segments and query parameter names regardless of case (set it when the legacy server reads them so, as IIS and ASP.NET do)'),
  FICUS_ENCODED_SLASHES: Type.Unsafe<EncodedSlashes>({
    type: 'string',
    enum: [...ENCODED_SLASHES],
    default: 'keep',
    description: 'an escaped slash (%2F) in a path: keep (data in its segment), decode (a separator, set it when the legacy server reads it so, as nginx does), refuse (400)',
  }),
  FICUS_ROUTE_HEADER: Env.boolean(true, 'add x-ficus-route to every proxied answer'),
  FICUS_READ_AFTER_WRITE_MS: Env.integer(10_000, 'after a write answered by legacy, safe reads of the same path, of what a POST created and of the same record (the value of a sticky `param`/`query` of the same name, e.g. `mrn`) go to legacy this long, whatever the rule says (not in mode retired); 0: off'),
  FICUS_TRUST_FORWARDED: Env.boolean(false, 'keep X-Forwarded-Proto/Host, Forwarded and X-Real-IP from a trusted load balancer in front'),
  FICUS_ACCESS_LOG: Type.Unsafe<'all' | 'errors' | 'off'>({
    type: 'string',
    enum: ['all', 'errors', 'off'],
    default: 'errors',
    description: 'one log line per request (rule, target, status, time; never the path or query): all, errors (status >= 400 and fallbacks), off',
  }),
  FICUS_CLIENT_REQUEST_TIMEOUT_MS: Env.integer(600_000, 'longest time to receive a whole request from a client (large uploads)'),
  FICUS_REQUEST_BUFFER_BYTES: Env.integer(
    DEFAULT_REQUEST_BUFFER_BYTES,
    'request bodies up to this size are read from the client before an upstream connection is taken (a slow client then holds none); larger ones stream; 0: every body streams',
    0,
  ),
  FICUS_DASHBOARD_DIR: Env.optionalString('the built dashboard served at /admin (default: gateway/dashboard/dist)'),
  FICUS_PARITY_FLUSH_MS: Env.integer(1_000, 'how often parity and traffic counts are written to the gateway database', 50),
  FICUS_SHUTDOWN_TIMEOUT_MS: Env.integer(10_000, 'on SIGTERM, wait this long for in-flight requests'),
  LOG_LEVEL: Env.level(),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(GatewayConfigSchema, env);
}

/** The rule store database, when there is one. */
export function storeUrlOf(config: GatewayConfig): string | undefined {
  return config.FICUS_STORE_URL ?? (config.DATABASE_URL ? withDatabase(config.DATABASE_URL, 'ficus_gateway') : undefined);
}
