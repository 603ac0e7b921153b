/**
 * One WebSocket handshake on its way through the gateway, from the routing decision to the
 * upstream's answer: its deadlines, the verdict its upstream's circuit breaker hears, the
 * half-open trial it may hold, and its bookkeeping (answer-record.ts).
 *
 * http-proxy opens the upstream connection itself (a fresh one, outside the undici pool) and
 * has no deadline for an upgrade: its `proxyTimeout` applies to plain requests only. An upstream
 * that accepted the connection and never answered held the client, the upstream socket and a
 * half-open trial for ever. The deadlines are the upstream's own, as undici applies them to
 * plain requests: `connectMs` until the connection is up, then `responseHeadersMs` until the
 * answer's head. A deadline destroys the upstream request with the error undici would have
 * raised, so the client gets the same 504 problem as for a plain request.
 *
 * No connection-gate slot is taken: the gate bounds undici's pool, which a handshake does not
 * use, and an upgraded connection lives for hours; a slot held that long would starve the
 * upstream's plain requests. A handshake's own cost is bounded by its deadlines.
 */
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { PASS } from '../upstreams/circuit-breaker.js';
import type { Upstream } from '../upstreams/upstream.js';
import { recordAnswer } from './answer-record.js';
import type { ProxyRuntime } from './runtime.js';
import type { UpstreamFailure } from './upstream-errors.js';

/** the errors undici raises for the same deadlines: upstream-errors.ts turns them into a 504 */
function deadlineError(code: 'UND_ERR_CONNECT_TIMEOUT' | 'UND_ERR_HEADERS_TIMEOUT', ms: number): Error {
  const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'handshake answer';
  return Object.assign(new Error(`websocket upstream ${what} timeout (${ms} ms)`), { code });
}

export class Handshake {
  /** the status of the head written to the client (0: none yet, a problem answer can still be sent) */
  status = 0;
  private recorded = false;
  /** the upstream answered, failed, or the client left: no other verdict, no other deadline */
  private settled = false;
  private clientGone = false;
  private timer: NodeJS.Timeout | undefined;
  private upstreamReq: ClientRequest | undefined;
  /** the half-open trial this handshake holds (0: none) */
  private trial = 0;

  constructor(
    readonly rt: ProxyRuntime,
    readonly requestId: string,
    readonly rule: string,
    readonly upstream: Upstream,
    readonly started: number,
    /** answered by legacy because the target's circuit let nothing through */
    readonly fallback: boolean,
    /** what breaker.admit() answered for the target (PASS when it was not asked) */
    admitted: number = PASS,
    /** the rule is held in legacy by the emergency override */
    readonly emergency = false,
  ) {
    if (admitted !== PASS) this.trial = admitted;
  }

  get route(): string {
    if (this.emergency) return `${this.rule}; ${this.upstream.name} (emergency)`;
    return this.fallback ? `${this.rule}; ${this.upstream.name} (fallback)` : `${this.rule}; ${this.upstream.name}`;
  }

  /**
   * The upstream request exists (http-proxy's 'proxyReqWs'): the deadlines start, and a client
   * that leaves from now on takes the upstream request down with it.
   */
  watch(upstreamReq: ClientRequest, client: Duplex): void {
    this.upstreamReq = upstreamReq;
    const { connectMs, responseHeadersMs } = this.upstream.config.timeouts;
    this.arm(deadlineError('UND_ERR_CONNECT_TIMEOUT', connectMs), connectMs);
    upstreamReq.once('socket', (s: Socket) => {
      const headDeadline = () => this.arm(deadlineError('UND_ERR_HEADERS_TIMEOUT', responseHeadersMs), responseHeadersMs);
      if (s.connecting) s.once('connect', headDeadline);
      else headDeadline();
    });
    // the server keeps a client's half-closed connection open (allowHalfOpen), and nothing reads
    // it before the upgrade: its FIN shows as 'end' alone. A client must wait for the answer
    // before it sends anything (RFC 6455 §4.1), so an end before the answer is a client gone.
    const gone = () => this.clientLeft(client);
    if (client.closed) process.nextTick(gone);
    client.once('end', gone);
    client.once('close', gone);
  }

  private arm(err: Error, ms: number): void {
    clearTimeout(this.timer);
    if (this.settled) return;
    this.timer = setTimeout(() => this.upstreamReq?.destroy(err), ms);
  }

  /** The upstream answered with `status` (101 included): its verdict, as for a plain request. */
  answered(status: number): void {
    if (!this.settle()) return;
    if (status >= 500) this.upstream.breaker.failure(`status ${status}`);
    else this.upstream.breaker.success();
    this.trial = 0;
  }

  /** The upstream request failed before its answer (one after it, or after the client left, says nothing more). */
  failed(failure: UpstreamFailure): void {
    if (!this.settle()) return;
    if (failure.upstreamFault) {
      this.upstream.breaker.failure(failure.reason);
      this.trial = 0;
    }
    this.releaseTrial();
  }

  get clientLeftFirst(): boolean {
    return this.clientGone;
  }

  private clientLeft(client: Duplex): void {
    if (this.settled) return;
    this.clientGone = true;
    this.settle();
    // nobody to hand an answer to: both connections go now, not at the upstream's deadline
    client.destroy();
    this.upstreamReq?.destroy();
    // a trial whose client left told the breaker nothing: without this, no handshake or request
    // would be let through until the trial's timeout
    this.releaseTrial();
    this.record(499);
  }

  private settle(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.settled) return false;
    this.settled = true;
    return true;
  }

  private releaseTrial(): void {
    if (this.trial === 0) return;
    this.upstream.breaker.release(this.trial);
    this.trial = 0;
  }

  record(status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    const stats = this.rt.metrics.route(this.rule, this.upstream.name, this.fallback);
    recordAnswer(this.rt, stats, this.requestId, 'GET', status, (performance.now() - this.started) / 1000);
  }
}
