/**
 * WebSocket (and other HTTP/1.1 Upgrade) requests, routed by the same rules and passed through
 * by http-proxy, which handles the upgrade handshake and the two-way pipe well. The target's
 * circuit breaker is asked first, as for a plain request: while it lets nothing through, a rule
 * with fallback sends the handshake to legacy, else 503. A handshake that failed is not replayed
 * to legacy: http-proxy has ended the client's connection by then. Deadlines, the breaker's
 * verdicts and a client leaving mid-handshake are ws-handshake.ts's. Any other upgrade (h2c,
 * TLS, a POST) is not passed on: the request is served as HTTP/1.1 (h2c-upgrade.ts).
 *
 * An upstream may also refuse the handshake with an ordinary answer (a 400 for a bad key, a 404,
 * a REST route's 200 and its body). http-proxy wrote that answer itself as Node had parsed it:
 * Connection and Keep-Alive passed on, no Via, x-request-id or x-ficus-route, a chunked body
 * unchunked under its Transfer-Encoding, counted nowhere and logged nowhere. Such an answer is
 * now relayed here as any proxied answer is (headers.ts, answer-record.ts); a 101 is counted
 * and logged too.
 */
import { randomUUID } from 'node:crypto';
import type { ClientRequest, IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { decide } from '../routing/decide.js';
import { ambiguityDetail, AMBIGUOUS_SLUG, AMBIGUOUS_TITLE } from '../routing/repeated-values.js';
import { BadTargetError, parseRequestTarget } from '../routing/request-target.js';
import { isAmbiguous, type CompiledRule } from '../routing/router.js';
import { PASS, REFUSED } from '../upstreams/circuit-breaker.js';
import { recordAnswer } from './answer-record.js';
import { acceptableRequestId, clientResponseHeaders, isAdminCredential, VIA } from './headers.js';
import { hostDefect } from './host-header.js';
import { hasBody } from './outgoing-body.js';
import { sendProblemOnSocket } from './problem-response.js';
import { loggedRequestId } from './request-id.js';
import { VERSION_NOT_SUPPORTED_DETAIL } from './request-line.js';
import type { ProxyRuntime } from './runtime.js';
import { continueAsHttp1, isWebSocketHandshake } from './h2c-upgrade.js';
import { circuitDetail, classifyUpstreamError, failureDetail } from './upstream-errors.js';
import { Handshake } from './ws-handshake.js';

/** The handshake is kept on the request for the proxy's events. */
const kHandshake = Symbol('ficus.handshake');
type HandshakeRequest = IncomingMessage & { [kHandshake]?: Handshake };

/** The gateway's own answer headers, as an exchange adds them. */
function ownHeaders(hs: Handshake): string[] {
  const added = ['via', VIA, 'x-request-id', hs.requestId];
  if (hs.rt.options.routeHeader) added.push('x-ficus-route', hs.route);
  return added;
}

/** A 101: the upstream's headers (its Connection and Upgrade included: they make the switch) and the gateway's. */
function accepted(hs: Handshake, proxyRes: IncomingMessage, upstreamSocket: Duplex, client: Duplex): void {
  hs.answered(101);
  hs.status = 101;
  if (client.destroyed) {
    // the client left as the answer came: nothing to pipe it to
    upstreamSocket.destroy();
    return hs.record(499);
  }
  const h = proxyRes.headers;
  const added = ownHeaders(hs);
  for (let i = 0; i < added.length; i += 2) {
    const name = added[i]!;
    const before = h[name];
    // an upstream's own Via or x-request-id is kept, as on any answer
    h[name] = before === undefined ? added[i + 1]! : [...(Array.isArray(before) ? before : [before]), added[i + 1]!];
  }
  hs.record(101);
}

/** Ends the client's connection so that a cut answer cannot pass for a whole one (its body is delimited by the close). */
function cut(socket: Duplex): void {
  const s = socket as Socket;
  if (typeof s.resetAndDestroy === 'function' && !s.destroyed) s.resetAndDestroy();
  else socket.destroy();
}

/**
 * Any other answer: relayed as an exchange relays one, then the connection is closed (Node has
 * let go of its parser for an upgrade request, so no other request can follow on it). The body
 * comes unchunked from Node and is delimited by the close.
 */
function refused(hs: Handshake, res: IncomingMessage, socket: Duplex): void {
  const status = res.statusCode ?? 502;
  hs.answered(status);
  if (socket.destroyed) {
    // the client left while the upstream made up its mind
    res.destroy();
    return hs.record(499);
  }
  hs.status = status;
  const framing = { contentLength: -1, chunked: false };
  const raw = res.rawHeaders.map((v) => Buffer.from(v, 'latin1'));
  const headers = clientResponseHeaders(raw, [...ownHeaders(hs), 'connection', 'close'], framing, status);
  let head = `HTTP/1.1 ${status} ${res.statusMessage ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`;
  socket.write(Buffer.from(head + '\r\n', 'latin1'));
  res.once('end', () => hs.record(status));
  res.once('error', () => {
    hs.record(status);
    cut(socket);
  });
  socket.once('close', () => {
    if (res.complete) return;
    hs.record(499);
    res.destroy();
  });
  res.pipe(socket);
}

export function createUpgradeHandler(rt: ProxyRuntime, server: Server) {
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: true });
  // emitted before http-proxy adds its own listeners: these run first
  proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
    if (isAdminCredential(req.headers.authorization)) proxyReq.removeHeader('authorization');
    if (!rt.options.trustForwarded) {
      // as headers.ts does for any request: what an unvouched client says of its address does not reach the upstream
      proxyReq.removeHeader('forwarded');
      proxyReq.setHeader('x-real-ip', req.socket.remoteAddress ?? '');
    }
    const hs = (req as HandshakeRequest)[kHandshake];
    if (!hs) return;
    hs.watch(proxyReq, socket);
    proxyReq.on('upgrade', (proxyRes: IncomingMessage, upstreamSocket: Duplex) => accepted(hs, proxyRes, upstreamSocket, socket));
    const relay = (res: IncomingMessage) => refused(hs, res, socket);
    proxyReq.on('response', relay);
    // right after this event, http-proxy adds a 'response' listener that writes any answer but a
    // 101 itself, as Node parsed it (ws-incoming.js): it is taken off before an answer can come,
    // as the request is sent only after this turn
    process.nextTick(() => {
      for (const l of proxyReq.listeners('response')) if (l !== relay) proxyReq.removeListener('response', l as (res: IncomingMessage) => void);
    });
  });
  proxy.on('error', (err: Error & { code?: string }, req: IncomingMessage, socket: unknown) => {
    const hs = (req as HandshakeRequest)[kHandshake];
    // the upstream request was aborted because the client left: already counted (499)
    if (hs?.clientLeftFirst) return;
    const failure = classifyUpstreamError(err);
    hs?.failed(failure);
    rt.log.warn({ reqId: hs && loggedRequestId(hs.requestId), rule: hs?.rule, target: hs?.upstream.name, reason: failure.reason, ...(failure.tlsCode ? { tls: failure.tlsCode } : {}) }, 'websocket upstream failed');
    if (!socket || typeof (socket as Duplex).destroy !== 'function') return;
    if (hs && hs.status !== 0) hs.record(hs.status);
    if (!hs || hs.status !== 0) return cut(socket as Duplex);
    hs.status = failure.status;
    sendProblemOnSocket(socket as Duplex, failure.status, failure.status === 504 ? 'Gateway Timeout' : 'Bad Gateway', failure.slug, failure.title, failureDetail(hs.upstream.name, failure));
    hs.record(failure.status);
  });

  return function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isWebSocketHandshake(req)) return continueAsHttp1(server, req, socket, head);
    socket.on('error', () => socket.destroy());
    const started = performance.now();
    const requestId = acceptableRequestId(req.headers['x-request-id']) ?? randomUUID();
    const refuse = (status: number, reason: string, slug: string, title: string, detail: string) => {
      sendProblemOnSocket(socket, status, reason, slug, title, detail);
      recordAnswer(rt, rt.metrics.refusals, requestId, 'GET', status, (performance.now() - started) / 1000);
    };
    if (req.httpVersionMajor !== 1) return refuse(505, 'HTTP Version Not Supported', 'http-version-not-supported', 'HTTP version not supported', VERSION_NOT_SUPPORTED_DETAIL);
    const badHost = hostDefect(req);
    if (badHost !== undefined) return refuse(400, 'Bad Request', 'bad-request', 'Bad request', badHost);
    let target;
    try {
      target = parseRequestTarget(req.url ?? '/', rt.router.encodedSlashes);
    } catch (e) {
      if (e instanceof BadTargetError) return refuse(400, 'Bad Request', 'bad-request-target', 'Bad request target', e.message);
      throw e;
    }
    const match = rt.router.route(req.method ?? 'GET', target, req.headers, req.rawHeaders);
    if (!match) return refuse(404, 'Not Found', 'no-route', 'No rule matches this request', 'no routing rule matches this method and path');
    const rule = match.rule;
    if (isAmbiguous(match)) return refuse(400, 'Bad Request', AMBIGUOUS_SLUG, AMBIGUOUS_TITLE, ambiguityDetail(rule.id, match.ambiguous));
    const toTarget = decide(match, req.headers, target, req.rawHeaders).toTarget;
    const hs = admit(rt, rule, toTarget, !hasBody(req), socket, requestId, started);
    if (!hs) return;
    (req as HandshakeRequest)[kHandshake] = hs;
    req.url = target.forwardPath;
    rt.log.info({ reqId: loggedRequestId(requestId), rule: rule.id, target: hs.upstream.name }, 'websocket upgrade');
    proxy.ws(req, socket, head, {
      target: hs.upstream.config.url,
      changeOrigin: !hs.upstream.config.preserveHost,
      // https://: the upstream's TLS settings and server name (else Node took the name from the client's Host)
      ...(hs.upstream.wsAgent ? { agent: hs.upstream.wsAgent } : {}),
      headers: { 'x-request-id': requestId, via: req.headers.via ? `${req.headers.via}, ${VIA}` : VIA },
    });
  };
}

/**
 * The upstream a handshake goes to, as an exchange chooses it: the target's circuit breaker is
 * asked first (a half-open circuit lets one trial through); when it refuses, a rule with
 * fallback sends the handshake to legacy, else 503. Undefined when the gateway answered itself.
 */
function admit(rt: ProxyRuntime, rule: CompiledRule, toTarget: boolean, bodiless: boolean, socket: Duplex, requestId: string, started: number): Handshake | undefined {
  const answerItself = (name: string, fallback: boolean, status: number, reason: string, slug: string, title: string, detail: string) => {
    sendProblemOnSocket(socket, status, reason, slug, title, detail);
    recordAnswer(rt, rt.metrics.route(rule.id, name, fallback), requestId, 'GET', status, (performance.now() - started) / 1000);
    return undefined;
  };
  const undeclared = (name: string, fallback: boolean) =>
    answerItself(name, fallback, 502, 'Bad Gateway', 'unknown-upstream', 'Upstream not declared', `the rules name an upstream "${name}" that is not declared`);
  const name = toTarget ? rule.target! : rule.legacy;
  const upstream = rt.upstreams.get(name);
  if (!upstream) return undeclared(name, false);
  if (!toTarget) return new Handshake(rt, requestId, rule.id, upstream, started, false, PASS, rule.emergency);
  const admitted = upstream.breaker.admit();
  if (admitted !== REFUSED) return new Handshake(rt, requestId, rule.id, upstream, started, false, admitted);
  // nothing has been sent: handing the handshake to legacy is safe, as for any safe request
  if (rule.mode === 'retired' || !rule.fallback || !bodiless) {
    return answerItself(name, false, 503, 'Service Unavailable', 'upstream-unavailable', 'Upstream unavailable', circuitDetail(name, upstream.breaker.current));
  }
  rt.metrics.fallbacks.inc({ rule: rule.id, reason: 'circuit-open' });
  rt.log.warn({ reqId: loggedRequestId(requestId), rule: rule.id, target: name, reason: 'circuit-open' }, 'answered by legacy (fallback)');
  const legacy = rt.upstreams.get(rule.legacy);
  if (!legacy) return undeclared(rule.legacy, true);
  return new Handshake(rt, requestId, rule.id, legacy, started, true, PASS);
}
