/**
 * One upstream as the gateway uses it: a keep-alive connection pool (undici) with the gateway's
 * queue in front of it, a circuit breaker and an active health checker, all from the upstream's
 * declaration in the rules.
 */
import { Agent as HttpsAgent } from 'node:https';
import { Client, Pool } from 'undici';
import type { Logger, ResolvedUpstream } from '@ficus/contracts';
import { CircuitBreaker, type BreakerSettings, type CircuitState } from './circuit-breaker.js';
import { ConnectionGate } from './connection-gate.js';
import { HealthChecker, healthCheckClient, type Health } from './health-check.js';
import { guardedConnector } from './paused-end-guard.js';
import { lenientAnswersConnector } from './lenient-answers.js';
import { readAfterResetConnector } from './reset-while-sending.js';
import { resetMidAnswerConnector } from './reset-mid-answer.js';
import { reusedConnectionsConnector } from './reused-connections.js';
import { upstreamConnector, tlsConnectOptions, upstreamServerName } from './upstream-tls.js';

/** A half-open trial that has had its connect and response time holds the one trial slot no longer. */
function breakerSettings(config: ResolvedUpstream): BreakerSettings {
  return { ...config.circuitBreaker, trialTimeoutMs: config.timeouts.connectMs + config.timeouts.responseHeadersMs };
}

export class Upstream {
  readonly pool: Pool;
  /** every proxied request takes a slot here before undici gets it (connection-gate.ts) */
  readonly gate: ConnectionGate;
  readonly breaker: CircuitBreaker;
  readonly health: HealthChecker;
  /** the health checks' own connection: they never wait behind, nor hold up, real traffic */
  private readonly healthClient: Client;
  readonly origin: URL;
  /** `name (fallback)`-style labels are derived from this */
  readonly name: string;
  config: ResolvedUpstream;
  /**
   * the TLS server name each request carries (https:// only). undici takes it from the Host
   * header otherwise, which is the client's with preserveHost: the certificate was checked
   * against the gateway's own name, and a new Host closed the pooled connections.
   */
  readonly servername: string | undefined;
  /** the WebSocket pass-through's connections (http-proxy), with the same TLS settings as the pool */
  readonly wsAgent: HttpsAgent | undefined;
  /** what each pooled connection is opened and run with */
  private readonly connection: Client.Options;

  constructor(name: string, config: ResolvedUpstream, log: Logger) {
    this.name = name;
    this.config = config;
    this.origin = new URL(config.url);
    const https = this.origin.protocol === 'https:';
    this.servername = https ? upstreamServerName(this.origin, config.tls) : undefined;
    const tls = https ? tlsConnectOptions(this.origin, config.tls) : {};
    this.wsAgent = https ? new HttpsAgent({ ...tls, keepAlive: false }) : undefined;
    this.connection = {
      pipelining: 1,
      keepAliveTimeout: config.pool.keepAliveMs,
      keepAliveMaxTimeout: Math.max(config.pool.keepAliveMs, 60_000),
      headersTimeout: config.timeouts.responseHeadersMs,
      bodyTimeout: config.timeouts.bodyIdleMs,
      connect: reusedConnectionsConnector(lenientAnswersConnector(readAfterResetConnector(resetMidAnswerConnector(upstreamConnector(guardedConnector({ ...tls, timeout: config.timeouts.connectMs })))))),
      maxHeaderSize: 64 * 1024,
    };
    this.pool = new Pool(this.origin.origin, { ...this.connection, connections: config.pool.connections });
    this.gate = new ConnectionGate(config.pool.connections, config.timeouts.queueMs);
    this.breaker = new CircuitBreaker(breakerSettings(config), (state: CircuitState, reason: string) =>
      log.warn({ upstream: name, circuit: state, reason }, `circuit of upstream ${name} is ${state}`),
    );
    this.healthClient = healthCheckClient(this.origin.origin, config.timeouts.connectMs, config.healthCheck.intervalMs, tls);
    this.health = new HealthChecker(this.healthClient, config.healthCheck, (health: Health, detail: string) => {
      const level = health === 'healthy' ? 'info' : 'warn';
      log[level]({ upstream: name, health, detail }, `upstream ${name} is ${health}`);
      if (health === 'unhealthy') this.breaker.forceOpen(`health check failed: ${detail}`);
      else this.breaker.forceClose('health check passed');
    }, (detail: string) => this.breaker.forceOpen(`health check failed: ${detail}`));
    // while checks keep failing the circuit stays open: no nurse's request is spent as a trial
  }

  /**
   * One new connection, as the pool's are, outside the pool: for a request sent again after a
   * pooled connection was lost to the keep-alive race (proxy/resend.ts), since another pooled one
   * may be as stale. The caller closes it once it has dispatched (it ends after that request).
   */
  freshConnection(): Client {
    return new Client(this.origin.origin, this.connection);
  }

  /** true when a new declaration can reuse this upstream's pool */
  canReuseFor(config: ResolvedUpstream): boolean {
    const a = this.config;
    return (
      a.url === config.url &&
      a.pool.connections === config.pool.connections &&
      a.pool.keepAliveMs === config.pool.keepAliveMs &&
      a.timeouts.connectMs === config.timeouts.connectMs &&
      // a rotated certificate (the files' contents changed) takes new connections
      a.tls?.fingerprint === config.tls?.fingerprint &&
      JSON.stringify(a.healthCheck) === JSON.stringify(config.healthCheck)
    );
  }

  reconfigure(config: ResolvedUpstream): void {
    this.config = config;
    this.gate.queueMs = config.timeouts.queueMs;
    this.breaker.reconfigure(breakerSettings(config));
  }

  start(): void {
    this.health.start();
  }

  async close(): Promise<void> {
    this.health.stop();
    this.wsAgent?.destroy();
    this.gate.flush();
    await Promise.all([this.pool.close().catch(() => undefined), this.healthClient.close().catch(() => undefined)]);
  }

  destroy(): Promise<void> {
    this.health.stop();
    this.wsAgent?.destroy();
    this.gate.flush();
    return Promise.all([this.pool.destroy().catch(() => undefined), this.healthClient.destroy().catch(() => undefined)]).then(() => undefined);
  }
}
