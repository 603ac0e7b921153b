/**
 * Errors the gateway answers itself, as RFC 9457 problem+json.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem, PROBLEM_CONTENT_TYPE } from '@ficus/contracts';

export function sendProblem(
  res: ServerResponse,
  status: number,
  slug: string,
  title: string,
  detail: string,
  requestId: string,
  route: string | undefined,
  /** more headers, as name, value pairs (Retry-After) */
  extra?: string[],
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem(status, slug, title, detail, { instance: `urn:ficus:request:${requestId}` }));
  const headers: string[] = ['content-type', PROBLEM_CONTENT_TYPE, 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store', 'x-request-id', requestId];
  if (route !== undefined) headers.push('x-ficus-route', route);
  if (extra !== undefined) headers.push(...extra);
  // the reason phrase said outright: a writeHead that failed before may have left its own behind
  res.writeHead(status, STATUS_CODES[status] ?? '', headers);
  res.end(body);
}

export const ECHO_DETAIL = 'the gateway does not pass TRACE or CONNECT: TRACE echoes the request, cookies and credentials included, back to the page that sent it; CONNECT would open a tunnel past the rules';

/**
 * TRACE is never passed on: legacy servers often still answer it (cross-site tracing). IIS's
 * TRACK never gets this far: Node's HTTP parser answers an unknown method 400 itself.
 */
export function isEchoMethod(method: string | undefined): boolean {
  return method === 'TRACE';
}

export function refuseEchoMethod(res: ServerResponse, requestId: string): void {
  sendProblem(res, 501, 'method-not-implemented', 'Method not implemented', ECHO_DETAIL, requestId, undefined);
}

/** A problem answer written on a raw connection (CONNECT, upgrades), which is then closed. */
export function sendProblemOnSocket(socket: Duplex, status: number, reason: string, slug: string, title: string, detail: string): void {
  const body = JSON.stringify(problem(status, slug, title, detail));
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** CONNECT reaches the server's 'connect' event with the raw socket, not a response. */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  sendProblemOnSocket(socket, 501, 'Not Implemented', 'method-not-implemented', 'Method not implemented', ECHO_DETAIL);
}
