/**
 * Active health checks: a GET of the upstream's health path every `intervalMs`, on a connection
 * of their own (healthCheckClient), not the upstream's pool. `unhealthyAfter` failures in a row
 * mark it down (and open its circuit), `healthyAfter` successes mark it up again.
 *
 * Through the pool, a check queued inside undici behind real requests whenever every connection
 * was busy with slow ones, timed out there, and opened the circuit of an upstream that was
 * healthy but busy: every ward fell back to legacy. And a check holding a pooled connection took
 * it from real traffic. Its own connection is neither starved nor starving.
 */
import { buildConnector, Client, type Dispatcher } from 'undici';
import { lenientAnswersConnector } from './lenient-answers.js';
import { upstreamConnector } from './upstream-tls.js';
import type { HealthCheck } from '@ficus/contracts';

export type Health = 'unknown' | 'healthy' | 'unhealthy';

/** One connection for an upstream's health checks (kept alive between checks if the upstream lets it). */
export function healthCheckClient(origin: string, connectMs: number, intervalMs: number, tls: buildConnector.BuildOptions = {}): Client {
  // the pool's TLS settings and the answers it takes: a check that judged otherwise than real traffic would say nothing of it
  return new Client(origin, { pipelining: 1, connect: lenientAnswersConnector(upstreamConnector(buildConnector({ ...tls, timeout: connectMs }))), keepAliveTimeout: intervalMs + 1_000, keepAliveMaxTimeout: intervalMs + 1_000 });
}

export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private passes = 0;
  private fails = 0;
  private running = false;
  health: Health = 'unknown';
  lastError: string | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: Required<HealthCheck>,
    private readonly onChange: (health: Health, detail: string) => void,
    /** every failed check while already unhealthy (keeps the circuit open) */
    private readonly onStillDown: (detail: string) => void = () => {},
  ) {}

  start(): void {
    if (!this.options.enabled || this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs one check now (also used by tests and at startup). */
  async check(): Promise<Health> {
    if (this.running) return this.health;
    this.running = true;
    try {
      const res = await this.dispatcher.request({
        method: 'GET',
        path: this.options.path,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: { 'user-agent': 'ficus-health-check' },
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 400) this.pass();
      else this.fail(`status ${res.statusCode}`);
    } catch (e) {
      this.fail((e as Error).message);
    } finally {
      this.running = false;
    }
    return this.health;
  }

  private pass(): void {
    this.fails = 0;
    this.passes++;
    this.lastError = undefined;
    if (this.health !== 'healthy' && this.passes >= this.options.healthyAfter) this.set('healthy', 'health check passed');
  }

  private fail(reason: string): void {
    this.passes = 0;
    this.fails++;
    this.lastError = reason;
    if (this.health === 'unhealthy') this.onStillDown(reason);
    else if (this.fails >= this.options.unhealthyAfter) this.set('unhealthy', reason);
  }

  private set(health: Health, detail: string): void {
    this.health = health;
    this.onChange(health, detail);
  }
}
