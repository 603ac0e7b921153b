/**
 * A request offering an upgrade other than a WebSocket handshake (`Upgrade: h2c`, HTTP/2 over
 * cleartext, RFC 7540 §3.2, deprecated by RFC 9113; `TLS/1.0`; a POST asking for websocket) is
 * answered as the HTTP/1.1 request it also is: a server may ignore an Upgrade it does not want
 * (RFC 9110 §7.8), and nginx does. Java's HttpClient offers h2c on every http:// request by
 * default, and `curl --http2` does too. Passed through, the upstream could switch the
 * connection to HTTP/2, and every later request on it would reach that upstream without passing
 * the rules; handed to http-proxy, anything but a GET for `websocket` got an empty reply.
 *
 * Node (20) hands any request with `Connection: upgrade` to the server's 'upgrade' listener,
 * which the gateway has for WebSockets, and has by then let go of the connection's parser. So
 * the request is written again without its upgrade headers, put back in front of the bytes
 * that followed it, and the connection handed to the server as a new one: it is parsed and
 * proxied like any other, body, keep-alive and limits included.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const UPGRADE_HEADERS = new Set(['upgrade', 'http2-settings']);

/** Whether the request is a WebSocket handshake (RFC 6455 §4.1: a GET, Upgrade: websocket), the one upgrade passed on. */
export function isWebSocketHandshake(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

/** The request's head as it came, less the upgrade and its Connection options. */
export function withoutUpgrade(req: IncomingMessage): Buffer {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (UPGRADE_HEADERS.has(lower)) continue;
    if (lower === 'connection') {
      const options = raw[i + 1]!
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== '' && !UPGRADE_HEADERS.has(o.toLowerCase()));
      if (options.length > 0) lines.push(`${name}: ${options.join(', ')}`);
      continue;
    }
    lines.push(`${name}: ${raw[i + 1]!}`);
  }
  // header values reach JavaScript as latin1 strings: written back the same way, the bytes are the sender's
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export function continueAsHttp1(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.unshift(Buffer.concat([withoutUpgrade(req), head]));
  server.emit('connection', socket as Socket);
}
