/**
 * WebSocket (and other HTTP/1.1 Upgrade) requests, routed by the same rules and passed through
 * by http-proxy, which handles the upgrade handshake and the two-way pipe well. There is no
 * fallback: a WebSocket is not a safe, replayable request. Any other upgrade (h2c, TLS, a POST)
 * is not passed on: the request is served as HTTP/1.1 (h2c-upgrade.ts).
 */
import { randomUUID } from 'node:crypto';
import type { ClientRequest, IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { decide } from '../routing/decide.js';
import { BadTargetError, parseRequestTarget } from '../routing/request-target.js';
import { acceptableRequestId, hasRepeatedHost, isAdminCredential, REPEATED_HOST_DETAIL, VIA } from './headers.js';
import { sendProblemOnSocket } from './problem-response.js';
import type { ProxyRuntime } from './exchange.js';
import { continueAsHttp1, isWebSocketHandshake } from './h2c-upgrade.js';

function reject(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  else socket.destroy();
}

export function createUpgradeHandler(rt: ProxyRuntime, server: Server) {
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: true });
  proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => {
    if (isAdminCredential(req.headers.authorization)) proxyReq.removeHeader('authorization');
    const route = (req as IncomingMessage & { ficusRoute?: string }).ficusRoute;
    proxyReq.on('upgrade', (proxyRes: IncomingMessage) => {
      proxyRes.headers.via = proxyRes.headers.via ? `${proxyRes.headers.via}, ${VIA}` : VIA;
      if (route && rt.options.routeHeader) proxyRes.headers['x-ficus-route'] = route;
    });
  });
  proxy.on('error', (err: Error, _req: IncomingMessage, socket: unknown) => {
    rt.log.warn({ reason: (err as Error & { code?: string }).code ?? err.message }, 'websocket upstream failed');
    if (socket && typeof (socket as Duplex).destroy === 'function') reject(socket as Duplex, 502, 'Bad Gateway');
  });

  return function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isWebSocketHandshake(req)) return continueAsHttp1(server, req, socket, head);
    socket.on('error', () => socket.destroy());
    if (hasRepeatedHost(req.rawHeaders)) return sendProblemOnSocket(socket, 400, 'Bad Request', 'bad-request', 'Bad request', REPEATED_HOST_DETAIL);
    let target;
    try {
      target = parseRequestTarget(req.url ?? '/', rt.router.encodedSlashes);
    } catch (e) {
      if (e instanceof BadTargetError) return sendProblemOnSocket(socket, 400, 'Bad Request', 'bad-request-target', 'Bad request target', e.message);
      throw e;
    }
    const match = rt.router.match(req.method ?? 'GET', target, req.headers);
    if (!match) return reject(socket, 404, 'Not Found');
    const rule = match.rule;
    const toTarget = decide(match, req.headers, target, req.rawHeaders).toTarget;
    const name = toTarget ? rule.target! : rule.legacy;
    const upstream = rt.upstreams.get(name);
    if (!upstream) return reject(socket, 502, 'Bad Gateway');
    if (toTarget && upstream.breaker.current === 'open') return reject(socket, 503, 'Service Unavailable');
    const requestId = acceptableRequestId(req.headers['x-request-id']) ?? randomUUID();
    (req as IncomingMessage & { ficusRoute?: string }).ficusRoute = `${rule.id}; ${name}`;
    req.url = target.forwardPath;
    rt.log.info({ reqId: requestId, rule: rule.id, target: name }, 'websocket upgrade');
    proxy.ws(req, socket, head, {
      target: upstream.config.url,
      changeOrigin: !upstream.config.preserveHost,
      headers: { 'x-request-id': requestId, via: req.headers.via ? `${req.headers.via}, ${VIA}` : VIA },
      proxyTimeout: upstream.config.timeouts.responseHeadersMs,
    });
  };
}
