/**
 * The defaults of an upstream declaration, applied after validation so that every deployable
 * works with complete settings.
 */
import type { CircuitBreakerOptions, HealthCheck, PoolOptions, Timeouts, Upstream } from './model.js';
import { loadUpstreamTls, tlsAllowed, type UpstreamTlsMaterial } from './upstream-tls.js';

/** An upstream with every default filled in. */
export interface ResolvedUpstream {
  url: string;
  description?: string;
  preserveHost: boolean;
  timeouts: Required<Timeouts>;
  pool: Required<PoolOptions>;
  healthCheck: Required<HealthCheck>;
  circuitBreaker: Required<CircuitBreakerOptions>;
  /** the files `tls` names, read when the rules were compiled (https:// only) */
  tls?: UpstreamTlsMaterial;
}

export const DEFAULT_UPSTREAM: Omit<ResolvedUpstream, 'url' | 'description' | 'tls'> = {
  preserveHost: true,
  timeouts: { connectMs: 2_000, responseHeadersMs: 30_000, bodyIdleMs: 60_000, queueMs: 2_000 },
  pool: { connections: 128, keepAliveMs: 4_000 },
  healthCheck: { enabled: true, path: '/healthz', intervalMs: 2_000, timeoutMs: 1_000, unhealthyAfter: 2, healthyAfter: 1 },
  circuitBreaker: { failureThreshold: 5, openMs: 5_000 },
};

/** Reads the TLS files it names (throws when one has gone since the rules were checked). */
export function resolveUpstream(declared: Upstream, env: NodeJS.ProcessEnv = process.env): ResolvedUpstream {
  const { tls, ...u } = declared;
  // an environment override to http:// (a test bench) has no use for them
  const material = tlsAllowed(u.url) ? loadUpstreamTls(tls, env) : undefined;
  return {
    ...u,
    ...(material ? { tls: material } : {}),
    preserveHost: u.preserveHost ?? DEFAULT_UPSTREAM.preserveHost,
    // the wait for a pooled connection follows the connect timeout unless it is declared
    timeouts: { ...DEFAULT_UPSTREAM.timeouts, queueMs: u.timeouts?.connectMs ?? DEFAULT_UPSTREAM.timeouts.queueMs, ...u.timeouts },
    pool: { ...DEFAULT_UPSTREAM.pool, ...u.pool },
    healthCheck: { ...DEFAULT_UPSTREAM.healthCheck, ...u.healthCheck },
    circuitBreaker: { ...DEFAULT_UPSTREAM.circuitBreaker, ...u.circuitBreaker },
  };
}

/** FICUS_UPSTREAM_PATIENT_SERVICE_URL overrides the URL of upstream "patient-service" (per environment). */
export function upstreamUrlOverride(name: string, env: NodeJS.ProcessEnv): string | undefined {
  return env[`FICUS_UPSTREAM_${name.toUpperCase().replace(/-/g, '_')}_URL`];
}
