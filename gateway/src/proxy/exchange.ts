/**
 * One proxied request, once routed (proxy-request.ts): streams it to the chosen upstream and
 * streams the answer back, falling back to legacy for safe requests when the new service fails.
 *
 * The Exchange object is itself the undici dispatch handler (the callback API is undici's
 * fastest path: no per-request wrapper, no header parsing). A small request body is read before
 * a pooled connection is taken (request-buffer.ts); a larger one is piped from the client
 * socket. A response body is written chunk by chunk and undici is paused whenever the client
 * cannot keep up. Every request takes a slot of the upstream's connection gate before undici
 * gets it, and waits there at most the upstream's `queueMs` (upstreams/connection-gate.ts).
 * A request an upstream lost on a reused keep-alive connection before any byte of an answer is
 * sent once more, in the same slot, where that is safe (resend.ts): always when undici had not
 * begun to write it (no onConnect yet).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { RequestTarget } from '../routing/request-target.js';
import type { CompiledRule, RouteMatch } from '../routing/router.js';
import { PASS, REFUSED } from '../upstreams/circuit-breaker.js';
import type { GateTicket, GateWaiter } from '../upstreams/connection-gate.js';
import type { Upstream } from '../upstreams/upstream.js';
import { clientResponseHeaders, upstreamRequestHeaders, VIA, type ResponseFraming } from './headers.js';
import { sendProblem } from './problem-response.js';
import { recordAnswer, routeStats } from './answer-record.js';
import { loggedRequestId } from './request-id.js';
import type { ShadowCapture } from './shadow.js';
import { staleMarked } from './stale-mark.js';
import { busyDetail, BUSY_RETRY_AFTER, circuitDetail, classifyUpstreamError, failureDetail } from './upstream-errors.js';
import { answerBeforeBody } from './unread-body.js';
import { hasBody, OutgoingBody } from './outgoing-body.js';
import { DEFAULT_REQUEST_BUFFER_BYTES } from './request-buffer.js';
import { cutAnswer, sendsTrailers, writeResponseHead } from './response-head.js';
import { rememberWrite } from './read-after-write.js';
import { LOST_UNSENT, resendReason, type ResendReason } from './resend.js';
import type { ProxyRuntime } from './runtime.js';

const kExchange = Symbol('ficus.exchange');
type TrackedResponse = ServerResponse & { [kExchange]?: Exchange };

function onClientClose(this: TrackedResponse): void {
  this[kExchange]?.clientClosed();
}

/**
 * Bodies that end with the connection cannot pause undici's parser safely (see
 * upstreams/paused-end-guard.ts), so they are relayed without back-pressure up to this many
 * bytes waiting for a slow client; past it the exchange is cut.
 */
export const UNPAUSABLE_BUFFER_LIMIT = 64 * 1024 * 1024;

function uncork(res: ServerResponse): void {
  res.uncork();
}

function ignore(): void {}

export class Exchange implements Dispatcher.DispatchHandler, GateWaiter {
  private upstream: Upstream | undefined;
  private onTarget = false;
  private isFallback = false;
  /** set by onConnect, which undici calls just before it writes the request: unset, no byte of this attempt was written */
  private abortUpstream: ((err: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private discarding = false;
  private readonly framing: ResponseFraming = { contentLength: -1, chunked: false };
  /** body bytes still expected (Content-Length), or -1 */
  private remaining = -1;
  /** the body ends with the connection: never pause the parser */
  private unpausable = false;
  private discardReason = '';
  private status = 0;
  private done = false;
  private clientGone = false;
  /** the half-open trial this exchange holds on `trialOf` (0: none): given back if it ends without a verdict */
  private trial = 0;
  private trialOf: Upstream | undefined;
  /** the request body, when there is one */
  private readonly upload: OutgoingBody | undefined;
  /** the upstream whose gate slot this exchange holds, and whether as a streaming upload */
  private slotOf: Upstream | undefined;
  private streaming = false;
  /** waiting for a slot of `upstream`'s gate */
  private ticket: GateTicket | undefined;
  /** the client could not be given the upstream's head: not the upstream's failure */
  private headFailed = false;
  /** a byte of the upstream's answer came (undici's onResponseStarted) */
  private answerStarted = false;
  /** why it was sent once more after a reused connection was lost (resend.ts): never a third time */
  private resent: ResendReason | undefined;
  private readonly rule: CompiledRule;
  /** mode shadow: legacy's answer is also handed here (after the client got it) */
  shadow: ShadowCapture | undefined = undefined;
  /** legacy answers because the path was just written through it (the rule would send it to the target) */
  afterWrite = false;

  constructor(
    private readonly rt: ProxyRuntime,
    private readonly req: IncomingMessage,
    private readonly res: TrackedResponse,
    private readonly match: RouteMatch,
    private readonly target: RequestTarget,
    private readonly requestId: string,
    private readonly started: number,
    private canFallback: boolean,
  ) {
    this.rule = match.rule;
    this.upload = hasBody(req) ? new OutgoingBody(req, rt.options.requestBufferBytes ?? DEFAULT_REQUEST_BUFFER_BYTES) : undefined;
    res[kExchange] = this;
    res.once('close', onClientClose);
  }

  /** A shadowed write's body comes through a tee (shadow.ts). */
  useBody(tee: Readable): void {
    this.upload?.useTee(tee);
  }

  /** Starts the exchange: a small body is read first, then the request goes to `name`. */
  start(name: string, onTarget: boolean): void {
    if (this.upload === undefined || !this.upload.readsFirst()) return this.send(name, onTarget);
    // counted against where it was going, should the client leave while sending
    this.upstream = this.rt.upstreams.get(name);
    this.upload.readWhole((clientStayed) => {
      // clientClosed() has counted one that left
      if (clientStayed && !this.clientGone && !this.done) this.send(name, onTarget);
    });
  }

  /** Sends the request to `name`; `onTarget` tells whether it is the rule's new service. */
  private send(name: string, onTarget: boolean): void {
    const upstream = this.rt.upstreams.get(name);
    this.upstream = upstream;
    this.onTarget = onTarget;
    if (!upstream) {
      this.fail(502, 'unknown-upstream', 'Upstream not declared', `the rules name an upstream "${name}" that is not declared`);
      return;
    }
    if (onTarget) {
      const admitted = upstream.breaker.admit();
      if (admitted === REFUSED) {
        if (this.canFallback) return this.fallback('circuit-open');
        this.fail(503, 'upstream-unavailable', 'Upstream unavailable', circuitDetail(name, upstream.breaker.current));
        return;
      }
      if (admitted !== PASS) {
        this.trial = admitted;
        this.trialOf = upstream;
      }
    }
    this.streaming = !this.isFallback && this.upload !== undefined && this.upload.streams;
    if (upstream.gate.tryEnter(this.streaming)) return this.dispatch(upstream);
    this.ticket = upstream.gate.wait(this.streaming, this);
    if (this.streaming) this.upload!.readAhead();
  }

  /** The gate gave this exchange a slot. */
  admitted(): void {
    this.ticket = undefined;
    this.upload?.endReadAhead();
    if (this.done) return this.upstream!.gate.leave(this.streaming);
    this.dispatch(this.upstream!);
  }

  /** No slot came free within the upstream's `queueMs`: load, not a failure (the circuit is not told). */
  queueTimedOut(): void {
    this.ticket = undefined;
    this.upload?.endReadAhead();
    const upstream = this.upstream!;
    this.rt.metrics.queueTimeouts.inc({ upstream: upstream.name });
    this.releaseTrial();
    if (this.onTarget && this.canFallback) return this.fallback('upstream-busy');
    this.rt.log.warn({ reqId: loggedRequestId(this.requestId), rule: this.rule.id, target: upstream.name, reason: 'upstream-busy' }, 'no upstream connection came free in time');
    this.fail(503, 'upstream-busy', 'Upstream busy', busyDetail(upstream.name, upstream.gate.queueMs), BUSY_RETRY_AFTER);
  }

  private dispatch(upstream: Upstream, via: Dispatcher = upstream.pool): void {
    this.slotOf = upstream;
    const t = upstream.config.timeouts;
    via.dispatch(
      {
        path: this.target.forwardPath,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(this.req, {
          requestId: this.requestId,
          preserveHost: upstream.config.preserveHost,
          trustForwarded: this.rt.options.trustForwarded,
          proto: this.rt.options.proto,
        }),
        body: this.isFallback || this.upload === undefined ? null : this.upload.forUndici(),
        headersTimeout: t.responseHeadersMs,
        bodyTimeout: t.bodyIdleMs,
        ...(upstream.servername !== undefined ? { servername: upstream.servername } : {}),
      },
      this,
    );
  }

  /** Gives the gate slot back: the request ended at undici, whatever way. */
  private leaveGate(): void {
    const held = this.slotOf;
    if (held === undefined) return;
    this.slotOf = undefined;
    held.gate.leave(this.streaming);
  }

  private releaseTrial(): void {
    if (this.trial === 0) return;
    this.trialOf!.breaker.release(this.trial);
    this.trial = 0;
  }

  private routeLabel(): string {
    const name = this.upstream?.name ?? '-';
    if (this.rule.emergency) return `${this.rule.id}; ${name} (emergency)`;
    return this.isFallback ? `${this.rule.id}; ${name} (fallback)` : this.afterWrite ? `${this.rule.id}; ${name} (after a write)` : `${this.rule.id}; ${name}`;
  }

  private fallback(reason: string): void {
    this.rt.metrics.fallbacks.inc({ rule: this.rule.id, reason });
    this.rt.log.warn({ reqId: loggedRequestId(this.requestId), rule: this.rule.id, target: this.upstream?.name, reason }, 'answered by legacy (fallback)');
    this.canFallback = false;
    this.isFallback = true;
    this.discarding = false;
    this.abortUpstream = undefined;
    this.send(this.rule.legacy, false);
  }

  // --- undici handler -------------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(new Error('client went away'));
  }

  onResponseStarted(): void {
    this.answerStarted = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const upstream = this.upstream!;
    if (statusCode >= 500 && this.onTarget && staleMarked(rawHeaders)) {
      // the service is up and says its copy is behind its feed: not a failure of its, and for
      // a safe request the legacy has the fresh answer (no fallback: its honest 503 is relayed)
      if (this.canFallback) {
        this.discarding = true;
        this.discardReason = 'stale-feed';
        return true;
      }
    } else if (statusCode >= 500) {
      upstream.breaker.failure(`status ${statusCode}`);
      if (this.onTarget && this.canFallback) {
        // drain the small error body so the connection stays reusable, then ask legacy
        this.discarding = true;
        this.discardReason = `status-${statusCode}`;
        return true;
      }
    } else if (statusCode >= 200 || statusCode === 101) {
      upstream.breaker.success();
    }
    if (statusCode < 200) return true; // 1xx interim answers are not relayed
    this.status = statusCode;
    if (!this.onTarget && statusCode < 300) rememberWrite(this.rt, this.req, this.match, this.target, rawHeaders);
    this.resume = resume;
    const added = ['via', VIA, 'x-request-id', this.requestId];
    if (this.rt.options.routeHeader) added.push('x-ficus-route', this.routeLabel());
    const headers = clientResponseHeaders(rawHeaders, added, this.framing, statusCode);
    // an upstream may answer before it has the whole body (a 413): its answer is the client's
    if (this.upload !== undefined) answerBeforeBody(this.req, this.res);
    this.remaining = this.framing.contentLength;
    this.unpausable = !this.framing.chunked && this.framing.contentLength < 0;
    // the head, the body that came with it in this read and the end go out in one write (Node
    // writes the head alone otherwise): one system call less per answer, ~7 % of the throughput
    this.res.cork();
    process.nextTick(uncork, this.res);
    try {
      writeResponseHead(this.res, this.req.method, statusCode, statusText, headers, this.framing);
    } catch (e) {
      this.headFailed = true;
      throw e;
    }
    if (this.shadow !== undefined) this.shadow.legacyHead(statusCode, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    if (this.remaining > 0) this.remaining -= chunk.length;
    const written = this.res.write(chunk);
    if (this.shadow !== undefined) this.shadow.legacyData(chunk);
    if (written) return true;
    // a client that went away is being aborted; pausing on the last chunk, or on a body that
    // ends with the connection, could crash undici when the upstream closes (undici#5360)
    if (this.res.destroyed || this.remaining === 0) return true;
    if (this.unpausable) {
      if (this.res.writableLength > UNPAUSABLE_BUFFER_LIMIT) {
        this.rt.log.warn({ reqId: loggedRequestId(this.requestId), rule: this.rule.id }, 'client too slow for a connection-delimited answer; cut');
        cutAnswer(this.res, this.framing);
      }
      return true;
    }
    this.res.once('drain', this.resume!);
    return false;
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.leaveGate();
    if (this.discarding) {
      this.fallback(this.discardReason);
      return;
    }
    if (trailers && trailers.length > 0 && sendsTrailers(this.res)) {
      const t: [string, string][] = [];
      for (let i = 0; i < trailers.length; i += 2) t.push([trailers[i]!.toString(), trailers[i + 1]!.toString()]);
      this.res.addTrailers(t);
    }
    this.res.end();
    this.finish(this.status);
    if (this.shadow !== undefined) this.shadow.legacyDone();
  }

  onError(err: Error & { code?: string }): void {
    const written = this.abortUpstream !== undefined;
    if (this.resent === undefined && !this.answerStarted && !this.clientGone && !this.done && this.slotOf !== undefined) {
      const reason = resendReason(err, this.req.method, this.isFallback || this.upload === undefined || !this.upload.streams, written);
      if (reason !== undefined) return this.resend(this.slotOf, reason);
    }
    this.leaveGate();
    if (this.shadow !== undefined) this.shadow.legacyFailed(this.clientGone ? 'client-gone' : 'legacy-failed');
    if (this.done) return;
    if (this.clientGone) {
      this.finish(499);
      return;
    }
    const failure = classifyUpstreamError(err, written && !this.isFallback && this.upload !== undefined && this.upload.stillSending(err));
    const upstream = this.upstream;
    // the upstream answered; the client could not be given its head: no strike against it
    const strike = failure.upstreamFault && !this.headFailed;
    if (this.res.headersSent) {
      // the status line is gone: cut the connection so the client cannot take a short body for a whole one
      if (strike) upstream?.breaker.failure(failure.reason);
      this.rt.metrics.answersCut.inc({ rule: this.rule.id, upstream: upstream?.name ?? '-', reason: failure.reason });
      this.rt.log.warn({ reqId: loggedRequestId(this.requestId), rule: this.rule.id, target: upstream?.name, reason: failure.reason, ...(failure.tlsCode ? { tls: failure.tlsCode } : {}) }, 'upstream failed mid-response');
      cutAnswer(this.res, this.framing, err);
      this.finish(this.status);
      return;
    }
    if (!this.discarding && strike) upstream?.breaker.failure(failure.reason);
    if (this.onTarget && this.canFallback) {
      this.fallback(this.discarding ? this.discardReason : failure.reason);
      return;
    }
    this.rt.log.warn({ reqId: loggedRequestId(this.requestId), rule: this.rule.id, target: upstream?.name, reason: failure.reason, ...(failure.tlsCode ? { tls: failure.tlsCode } : {}) }, 'upstream request failed');
    // no attempt was written (a fallback's target may have had one): the client may know nothing acted on it
    const unsent = !written && !this.isFallback && (this.resent === undefined || this.resent === LOST_UNSENT);
    this.fail(failure.status, failure.slug, failure.title, failureDetail(upstream?.name ?? '-', failure, unsent));
  }

  /** The keep-alive race lost this attempt (resend.ts): the same request, in the same gate slot, on a new connection. */
  private resend(upstream: Upstream, reason: ResendReason): void {
    this.resent = reason;
    this.abortUpstream = undefined;
    this.rt.metrics.upstreamRetries.inc({ upstream: upstream.name, reason });
    const what = reason === LOST_UNSENT ? 'lost a reused connection before the request was written' : 'closed a reused connection before answering';
    this.rt.log.info({ reqId: loggedRequestId(this.requestId), rule: this.rule.id, target: upstream.name, reason }, `upstream ${what}; sent once more on a new connection`);
    const fresh = upstream.freshConnection();
    this.dispatch(upstream, fresh);
    // ends the connection once that one request is done
    fresh.close(ignore);
  }

  // --- end of the exchange --------------------------------------------------------------

  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    if (this.ticket !== undefined) {
      // never sent: it leaves the queue now
      this.upstream!.gate.cancel(this.ticket);
      this.ticket = undefined;
    }
    if (this.shadow !== undefined) this.shadow.legacyFailed('client-gone');
    this.abortUpstream?.(new Error('client went away'));
    if (!this.done) this.finish(499);
  }

  private fail(status: number, slug: string, title: string, detail: string, extraHeaders?: string[]): void {
    if (this.shadow !== undefined) this.shadow.legacyFailed('legacy-failed');
    if (this.upload !== undefined && !this.res.headersSent) answerBeforeBody(this.req, this.res);
    sendProblem(this.res, status, slug, title, detail, this.requestId, this.rt.options.routeHeader ? this.routeLabel() : undefined, extraHeaders);
    this.finish(status);
  }

  private finish(status: number): void {
    if (this.done) return;
    this.done = true;
    this.res[kExchange] = undefined;
    // a trial whose client went away told the breaker nothing: without this, no request would
    // be let through again (a no-op when the upstream's answer already gave the verdict)
    this.releaseTrial();
    const seconds = (performance.now() - this.started) / 1000;
    const target = this.upstream?.name ?? '-';
    recordAnswer(this.rt, routeStats(this.rt.metrics, this.rule, target, this.isFallback), this.requestId, this.req.method, status, seconds);
    this.rt.metrics.finished();
  }
}
