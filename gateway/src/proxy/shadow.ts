/**
 * Shadow traffic: legacy answers the client as it always does; a copy of the request goes to
 * the rule's new service in the background, and the two answers are compared and counted.
 *
 * What the client gets is never touched: the exchange hands each chunk of legacy's answer to a
 * capture (a SHA-256 and a copy up to `maxBodyBytes`) after writing it to the client, and the
 * comparison runs once both sides are done, off the client's path. The shadow request has its
 * own timeout, is never retried, and waits for nothing the client waits for.
 *
 * The circuit breaker does not hear of shadow requests: it decides where real traffic goes, and
 * a shadow copy that fails (or times out on its own, shorter clock) must not open the circuit
 * that canary or new traffic on other rules relies on, nor close a half-open one on the
 * strength of a copy. While the target's circuit is open, shadowing is skipped.
 *
 * A read of a path just written through legacy is not copied either (`after-write`): the new
 * service learns of the write through CDC a moment later, so the two answers would differ on
 * the very fields just saved, and "save, then reopen" would count against parity.
 *
 * A copy uses only the spare capacity of its upstream's pool (connection-gate.ts): no slot free
 * at once, or the shadows' share of the pool taken, and it is skipped (`pool-busy`), never queued;
 * a real request that finds every slot taken preempts a copy (`preempted`). Before, copies went
 * to undici without a slot and the new service's real traffic queued behind them.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { compareForMethod, compareObserved, redactDiff, type CompiledCompare, type Logger, type Observed, type ParityRecorder } from '@ficus/contracts';
import type { RequestTarget } from '../routing/request-target.js';
import { isSafeMethod, type CompiledRule } from '../routing/router.js';
import type { ShadowSlot } from '../upstreams/connection-gate.js';
import type { Upstream } from '../upstreams/upstream.js';
import type { UpstreamRegistry } from '../upstreams/registry.js';
import { BodyCapture, pickHeaders } from './body-capture.js';
import { upstreamRequestHeaders, type ForwardingContext } from './headers.js';
import { loggedRequestId } from './request-id.js';
import { resendReason } from './resend.js';
import { classifyUpstreamError } from './upstream-errors.js';

export const SHADOW_HEADER = 'x-ficus-shadow';

/** the skip reason of a shadowed read of a path written through legacy moments ago (read-after-write.ts) */
export const AFTER_WRITE = 'after-write';
/** the skip reason of a copy that found no spare slot of its upstream's pool */
export const POOL_BUSY = 'pool-busy';
/** the skip reason of a copy aborted because a real request needed its connection */
export const PREEMPTED = 'preempted';
/** the skip reason of a shadowed write legacy answered before its body was all read */
export const ANSWERED_BEFORE_BODY = 'answered-before-body';
/** the skip reason of a copy whose upstream's pool the gateway had closed (a rule change replaced it) */
export const POOL_CLOSED = 'pool-closed';

/**
 * Why a copy that failed was the gateway's doing, not the new service's: a skip reason, or
 * undefined (the failure counts against the service). Counted as a mismatch, a copy the gateway
 * never sent would hold the flip gate shut on evidence the service never gave.
 */
function lostByGateway(e: Error & { code?: string }): string | undefined {
  return e.code === 'UND_ERR_CLOSED' || e.code === 'UND_ERR_DESTROYED' ? POOL_CLOSED : undefined;
}

/** One copy of a request: to the rule's target, or (noise learning) to legacy again. */
interface Copy {
  upstream: Upstream;
  which: 'target' | 'again';
}

/** A side that is not finished yet, or its answer. */
type Side = Observed | undefined;

export interface ShadowDeps {
  upstreams: UpstreamRegistry;
  recorder: ParityRecorder;
  log: Logger;
  forwarding: Omit<ForwardingContext, 'requestId' | 'preserveHost'>;
}

/**
 * One shadowed request: legacy's answer comes through `legacyHead`/`legacyData`/`legacyDone`
 * (or `legacyFailed`), the copies' answers from their own requests; the comparison happens
 * when all are in.
 */
export class ShadowCapture {
  private legacy: Side;
  private target: Side;
  private again: Side;
  private waitingForAgain = false;
  private legacyStatus = 0;
  private legacyHeaders: Record<string, string | undefined> = {};
  private readonly legacyBody: BodyCapture;
  private abandoned: string | undefined;
  private readonly controllers: AbortController[] = [];
  /** copies sent and not ended yet */
  private pending = 0;
  private settled = false;
  /** the rule's comparison, as it applies to this request's method */
  private readonly cc: CompiledCompare;

  constructor(
    private readonly shadows: Shadows,
    private readonly rule: CompiledRule,
    private readonly req: IncomingMessage,
    private readonly requestId: string,
    private readonly key: string,
  ) {
    this.legacyBody = new BodyCapture(rule.shadow!.maxBodyBytes);
    this.cc = compareForMethod(rule.compare!, req.method ?? 'GET');
  }

  /** compared or counted as skipped: nothing more to capture */
  get ended(): boolean {
    return this.settled;
  }

  legacyHead(status: number, rawHeaders: Buffer[]): void {
    this.legacyStatus = status;
    const names = this.cc.headers;
    const found: Record<string, string | undefined> = {};
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const lower = rawHeaders[i]!.toString('latin1').toLowerCase();
      if (names.includes(lower)) {
        const v = rawHeaders[i + 1]!.toString('latin1');
        found[lower] = found[lower] === undefined ? v : `${found[lower]}, ${v}`;
      }
    }
    this.legacyHeaders = pickHeaders(names, (n) => found[n]);
  }

  legacyData(chunk: Buffer): void {
    if (this.abandoned === undefined) this.legacyBody.add(chunk);
  }

  legacyDone(): void {
    if (this.legacy || this.abandoned) return;
    // legacy answered a write before its body was all read (an early 413): the rest of the body is
    // drained unseen (or never comes), so a copy would go cut short, or never, leaving this
    // request neither compared nor skipped and its concurrency slot taken for good
    if (!this.req.complete) return this.abandon(ANSWERED_BEFORE_BODY);
    this.legacy = { status: this.legacyStatus, headers: this.legacyHeaders, body: this.legacyBody.body(this.legacyHeaders['content-type']) };
    this.maybeCompare();
  }

  /** Legacy did not answer in full (it failed, or the client went away): nothing to compare. */
  legacyFailed(reason: string): void {
    if (this.legacy) return;
    this.abandon(reason);
  }

  /** Nothing will be compared: the copies in flight are aborted, and the request counts as skipped. */
  abandon(reason: string): void {
    if (this.abandoned || this.settled) return;
    this.abandoned = reason;
    for (const c of this.controllers) c.abort(new Error(reason));
    this.maybeCompare();
  }

  /**
   * Sends the copies, each on a spare slot of its upstream's gate; when one has none, none is
   * sent (`pool-busy`). `body` is the request body (shadowed writes) or null.
   */
  start(copies: Copy[], target: RequestTarget, body: Buffer | null): void {
    if (this.abandoned) return;
    const slots: ShadowSlot[] = [];
    for (const copy of copies) {
      const slot = copy.upstream.gate.tryEnterShadow(() => this.abandon(PREEMPTED));
      if (!slot) {
        slots.forEach((s, i) => copies[i]!.upstream.gate.leaveShadow(s));
        return this.abandon(POOL_BUSY);
      }
      slots.push(slot);
    }
    this.waitingForAgain = copies.some((c) => c.which === 'again');
    copies.forEach((c, i) => this.send(c.upstream, slots[i]!, target, body, c.which));
  }

  private send(upstream: Upstream, slot: ShadowSlot, target: RequestTarget, body: Buffer | null, which: Copy['which']): void {
    const shadow = this.rule.shadow!;
    this.pending++;
    const controller = new AbortController();
    this.controllers.push(controller);
    const timer = setTimeout(() => controller.abort(Object.assign(new Error('shadow timeout'), { code: 'SHADOW_TIMEOUT' })), shadow.timeoutMs);
    timer.unref();
    const headers = upstreamRequestHeaders(this.req, { ...this.shadows.deps.forwarding, requestId: this.requestId, preserveHost: upstream.config.preserveHost });
    headers.push(SHADOW_HEADER, '1');
    if (body) {
      // the body was read in full: say its length instead of relaying the client's framing
      for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === 'content-length') headers.splice(i, 2);
      headers.push('content-length', String(body.length));
    }
    const capture = new BodyCapture(shadow.maxBodyBytes);
    const names = this.cc.headers;
    const method = this.req.method as Dispatcher.HttpMethod;
    const request = (via: Dispatcher) =>
      via.request({
        path: target.forwardPath,
        method,
        headers,
        body,
        signal: controller.signal,
        headersTimeout: shadow.timeoutMs,
        bodyTimeout: shadow.timeoutMs,
        ...(upstream.servername !== undefined ? { servername: upstream.servername } : {}),
      });
    request(upstream.pool)
      // a copy the keep-alive race lost is sent once more, as a client's request is (resend.ts):
      // counted as the target failing, it would be a mismatch the service never made
      .catch((e: Error & { code?: string }) => {
        // the promise API does not say whether undici began to write it: taken as written
        if (resendReason(e, method, true, true) === undefined) throw e;
        const fresh = upstream.freshConnection();
        return request(fresh).finally(() => void fresh.close().catch(() => undefined));
      })
      .then(async (res) => {
        for await (const chunk of res.body) capture.add(chunk as Buffer);
        const h = pickHeaders(names, (n) => {
          const v = res.headers[n];
          return Array.isArray(v) ? v.join(', ') : v;
        });
        return { status: res.statusCode, headers: h, body: capture.body(h['content-type']) } satisfies Observed;
      })
      .catch((e: Error & { code?: string }): Observed | string => {
        const lost = lostByGateway(e);
        if (lost !== undefined) return lost;
        const reason = e.code === 'SHADOW_TIMEOUT' || (e.name === 'AbortError' && controller.signal.reason instanceof Error && (controller.signal.reason as { code?: string }).code === 'SHADOW_TIMEOUT') ? 'timeout' : classifyUpstreamError(e).reason;
        return { status: 0, error: reason, headers: {}, body: { kind: 'none' } };
      })
      .then((observed) => {
        clearTimeout(timer);
        upstream.gate.leaveShadow(slot);
        this.pending--;
        if (typeof observed === 'string') this.abandon(observed);
        else if (which === 'target') this.target = observed;
        else {
          this.again = observed;
          this.waitingForAgain = false;
        }
        this.maybeCompare();
      }, (e: Error) => this.shadows.deps.log.warn({ rule: this.rule.id, err: e.message }, 'shadow comparison failed'));
  }

  private maybeCompare(): void {
    if (this.settled) return;
    if (this.abandoned) {
      // wait for the copies to end (they were aborted) so the concurrency slot is freed once
      if (this.pending > 0) return;
      this.settled = true;
      this.shadows.release(this.rule.id);
      this.shadows.deps.recorder.skipped(this.rule.id, this.abandoned);
      return;
    }
    if (!this.legacy || !this.target || this.waitingForAgain) return;
    this.settled = true;
    this.shadows.release(this.rule.id);
    const legacy = this.legacy;
    const target = this.target;
    const again = this.again;
    // parsing and diffing happen after the client's answer is on its way
    setImmediate(() => this.shadows.compare(this.rule, this.req.method ?? 'GET', legacy, target, again, this.requestId, this.key));
  }
}

/** The shadowing of one gateway: concurrency per rule, the start of each copy, the counting. */
export class Shadows {
  private readonly inflight = new Map<string, number>();

  constructor(readonly deps: ShadowDeps) {}

  release(rule: string): void {
    this.inflight.set(rule, (this.inflight.get(rule) ?? 1) - 1);
  }

  /** rule → shadow requests in flight (for /metrics) */
  inflightAll(): Map<string, number> {
    return this.inflight;
  }

  inflightOf(rule: string): number {
    return this.inflight.get(rule) ?? 0;
  }

  /** `key`: the record the request was about (parity-key.ts), counted for the gate's breadth */
  compare(rule: CompiledRule, method: string, legacy: Observed, target: Observed, again: Observed | undefined, requestId: string, key: string): void {
    const c = compareObserved(legacy, target, compareForMethod(rule.compare!, method), again);
    const settings = rule.rule.compare;
    const rate = settings?.sampleRate ?? 0.1;
    const keep = !c.match && rate > 0 && Math.random() < rate;
    this.deps.recorder.record(
      rule.id,
      c,
      keep
        ? () => ({
            rule: rule.id,
            method,
            route: rule.patterns.map((p) => p.pattern.source).join(' '),
            legacyStatus: legacy.status || undefined,
            targetStatus: target.status || undefined,
            fields: c.fields,
            diff: redactDiff(c.diff, settings?.keepValues === true),
            redacted: settings?.keepValues !== true,
            requestId: loggedRequestId(requestId),
          })
        : undefined,
      { target: rule.target!, key },
    );
  }

  /** A request not shadowed for a reason the proxy knows before it starts: counted as skipped. */
  skip(rule: CompiledRule, reason: string): void {
    this.deps.recorder.skipped(rule.id, reason);
  }

  /**
   * Starts shadowing a request, or says why not (counted as skipped). `setBody` replaces the
   * body the exchange sends to legacy when the request body has to be copied (shadowed writes).
   */
  begin(rule: CompiledRule, req: IncomingMessage, target: RequestTarget, key: string, requestId: string, hasBody: boolean, setBody: (s: Readable) => void): ShadowCapture | undefined {
    const shadow = rule.shadow!;
    const recorder = this.deps.recorder;
    const method = req.method ?? 'GET';
    const safe = isSafeMethod(method);
    if (!safe && !shadow.writes) {
      recorder.skipped(rule.id, 'write-not-shadowed');
      return undefined;
    }
    const upstream = rule.target ? this.deps.upstreams.get(rule.target) : undefined;
    if (!upstream) {
      recorder.skipped(rule.id, 'no-target');
      return undefined;
    }
    if (upstream.breaker.current === 'open') {
      recorder.skipped(rule.id, 'circuit-open');
      return undefined;
    }
    const busy = this.inflightOf(rule.id);
    if (busy >= shadow.concurrency) {
      recorder.skipped(rule.id, 'busy');
      return undefined;
    }
    this.inflight.set(rule.id, busy + 1);
    const copies: Copy[] = [{ upstream, which: 'target' }];
    const legacy = rule.rule.compare?.learnNoise === true && safe ? this.deps.upstreams.get(rule.legacy) : undefined;
    if (legacy) copies.push({ upstream: legacy, which: 'again' });
    const capture = new ShadowCapture(this, rule, req, requestId, key);
    if (!hasBody) {
      capture.start(copies, target, null);
      // no spare connection: counted as skipped already, and legacy's answer need not be captured
      return capture.ended ? undefined : capture;
    }
    // a shadowed write: the body goes to legacy through a pass-through while a bounded copy is kept
    const tee = new PassThrough();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > shadow.maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(c);
    });
    // the copy never goes, whatever legacy did (legacyFailed would do nothing once it had answered)
    req.once('end', () => {
      if (tooLarge) capture.abandon('request-too-large');
      else capture.start(copies, target, Buffer.concat(chunks, size));
    });
    // a client that goes away mid-upload: the tee must not wait for an end that never comes
    req.once('close', () => {
      if (!req.complete) tee.destroy(new Error('client went away'));
    });
    req.pipe(tee);
    setBody(tee);
    return capture;
  }
}
