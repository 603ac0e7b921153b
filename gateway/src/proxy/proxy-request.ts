/**
 * The data plane's entry point for every request that is not the gateway's own: refuses what
 * cannot be routed safely (an HTTP version other than 1.x, echo methods, a repeated or invalid
 * Host, a transfer coding it cannot pass, a bad target, no rule, an ambiguous match), decides
 * the target by the rule (canary, recent writes) and starts an Exchange.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decide } from '../routing/decide.js';
import { BadTargetError, parseRequestTarget, type RequestTarget } from '../routing/request-target.js';
import { ambiguityDetail, AMBIGUOUS_SLUG, AMBIGUOUS_TITLE } from '../routing/repeated-values.js';
import { isAmbiguous, isSafeMethod } from '../routing/router.js';
import { Exchange } from './exchange.js';
import { acceptableRequestId, hasUnknownTransferCoding, HTTP10_TRANSFER_CODING_DETAIL, UNKNOWN_TRANSFER_CODING_DETAIL } from './headers.js';
import { hostDefect } from './host-header.js';
import { hasBody } from './outgoing-body.js';
import { comparedKey } from './parity-key.js';
import { isEchoMethod, refuseEchoMethod, sendProblem } from './problem-response.js';
import { writtenRecently } from './read-after-write.js';
import { recordRefusal } from './refusals.js';
import { VERSION_NOT_SUPPORTED_DETAIL } from './request-line.js';
import type { ProxyRuntime } from './runtime.js';
import { AFTER_WRITE } from './shadow.js';
import { isLingering } from './unread-body.js';

const kClosing = Symbol('ficus.closing');
type ClosingSocket = Socket & { [kClosing]?: true };

/**
 * The gateway's answer ends the connection, and no request read after it is served (RFC 9112
 * §9.6): Node has parsed and handed on the requests a client pipelined behind it, and they went
 * to the upstream, a POST carried out whose answer no one would ever read (nginx reads no further).
 */
function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  (req.socket as ClosingSocket)[kClosing] = true;
}

export function proxyRequest(rt: ProxyRuntime, req: IncomingMessage, res: ServerResponse): void {
  // a request pipelined behind a body the gateway refused to wait for: the connection is closing
  if (isLingering(req.socket)) return void req.socket.destroy();
  // pipelined behind an answer that closes the connection: never answered, so never sent
  if ((req.socket as ClosingSocket)[kClosing]) return;
  const started = performance.now();
  const requestId = acceptableRequestId(req.headers['x-request-id']) ?? randomUUID();
  if (req.httpVersionMajor !== 1) {
    // HTTP/2.0 and 0.9 request lines, which Node's parser takes: what else the client sends is
    // not HTTP/1.1 either
    closeAfter(req, res);
    sendProblem(res, 505, 'http-version-not-supported', 'HTTP version not supported', VERSION_NOT_SUPPORTED_DETAIL, requestId, undefined);
    return recordRefusal(rt, req.method, 505, requestId, started);
  }
  if (isEchoMethod(req.method)) {
    refuseEchoMethod(res, requestId);
    return recordRefusal(rt, req.method, 501, requestId, started);
  }
  const badHost = hostDefect(req);
  if (badHost !== undefined) {
    // which origin the client meant is anyone's guess: no keep-alive for such a client either
    closeAfter(req, res);
    sendProblem(res, 400, 'bad-request', 'Bad request', badHost, requestId, undefined);
    return recordRefusal(rt, req.method, 400, requestId, started);
  }
  const codings = req.headers['transfer-encoding'];
  if (codings !== undefined && req.httpVersionMinor === 0) {
    // RFC 9112 §6.1: framing an HTTP/1.0 peer cannot have meant; whoever passed it on may have read another body
    closeAfter(req, res);
    sendProblem(res, 400, 'bad-request', 'Bad request', HTTP10_TRANSFER_CODING_DETAIL, requestId, undefined);
    return recordRefusal(rt, req.method, 400, requestId, started);
  }
  if (hasUnknownTransferCoding(codings)) {
    closeAfter(req, res);
    sendProblem(res, 501, 'transfer-coding-not-implemented', 'Transfer coding not implemented', UNKNOWN_TRANSFER_CODING_DETAIL, requestId, undefined);
    return recordRefusal(rt, req.method, 501, requestId, started);
  }
  let target: RequestTarget;
  try {
    target = parseRequestTarget(req.url ?? '/', rt.router.encodedSlashes);
  } catch (e) {
    if (!(e instanceof BadTargetError)) throw e;
    sendProblem(res, 400, 'bad-request-target', 'Bad request target', e.message, requestId, undefined);
    return recordRefusal(rt, req.method, 400, requestId, started);
  }
  const method = req.method ?? 'GET';
  const match = rt.router.route(method, target, req.headers, req.rawHeaders);
  if (!match) {
    sendProblem(res, 404, 'no-route', 'No rule matches this request', 'no routing rule matches this method and path', requestId, undefined);
    return recordRefusal(rt, method, 404, requestId, started);
  }
  const rule = match.rule;
  if (isAmbiguous(match)) {
    sendProblem(res, 400, AMBIGUOUS_SLUG, AMBIGUOUS_TITLE, ambiguityDetail(rule.id, match.ambiguous), requestId, undefined);
    return recordRefusal(rt, method, 400, requestId, started);
  }
  rt.metrics.started();
  const decided = decide(match, req.headers, target, req.rawHeaders).toTarget;
  // one look-up serves both cases: a read the rule sends to the new service stays on legacy, and
  // a shadowed read is not compared (the new service may not have had the write through CDC yet)
  const afterWrite = (decided ? rule.mode !== 'retired' : rule.shadow !== null) && writtenRecently(rt, method, match, target);
  const toTarget = decided && !afterWrite;
  if (afterWrite && decided) rt.metrics.readsAfterWrite.inc({ rule: rule.id });
  const canFallback = toTarget && rule.mode !== 'retired' && rule.fallback && isSafeMethod(method) && !hasBody(req);
  const exchange = new Exchange(rt, req, res, match, target, requestId, started, canFallback);
  exchange.afterWrite = afterWrite && decided;
  if (rule.shadow !== null) {
    if (afterWrite) rt.shadows.skip(rule, AFTER_WRITE);
    else exchange.shadow = rt.shadows.begin(rule, req, target, comparedKey(match, req, target), requestId, hasBody(req), (tee) => exchange.useBody(tee));
  }
  exchange.start(toTarget ? rule.target! : rule.legacy, toTarget);
}
