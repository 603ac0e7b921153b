/**
 * Lingering close for answers given before the request body was read (RFC 9112 §9.6).
 *
 * fastify answers a body over `bodyLimit` with 413 and `Connection: close` at once, and Node
 * then closes the socket with the rest of the upload still arriving. Closing a socket with
 * unread input sends a TCP reset, and a reset makes the client's TCP stack throw away what it
 * has not read yet, the 413 included: curl printed 100 instead of 413, and the gateway, still
 * writing the body, met the reset and answered 502 (the legacy stand-in: 5 MB PUTs, two in three).
 *
 * So an answer given before the body is all read closes the way nginx's lingering close does:
 * the answer is sent, the sending side shut (FIN), and what the client still sends is read and
 * dropped until the body ends, for at most LINGER_MS in all, LINGER_IDLE_MS without a byte, and
 * LINGER_MAX_BYTES; only then is the socket closed. A small rest (a Content-Length within
 * DRAIN_LIMIT) is read by Node itself on a connection that stays open; a large or chunked one
 * closes the connection instead of reading an upload of any size only to keep it.
 *
 * One onSend hook for every answer (a single property read when the body was read); legacy-his
 * and every extracted service build their apps with legacyApiServer, which installs it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** a rest of the body this small is read by Node on a connection kept open */
export const DRAIN_LIMIT = 1024 * 1024;
/** nginx's lingering_time */
export const LINGER_MS = 30_000;
/** nginx's lingering_timeout */
export const LINGER_IDLE_MS = 5_000;
export const LINGER_MAX_BYTES = 64 * 1024 * 1024;

type LingeringSocket = Socket & { destroySoon(): void };

/** `complete` is still false for a bodyless request answered within the 'request' event itself */
function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function smallRest(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return len !== undefined && Number(len) <= DRAIN_LIMIT;
}

function closesConnection(reply: FastifyReply): boolean {
  const value = reply.getHeader('connection');
  return !reply.raw.shouldKeepAlive || (typeof value === 'string' && /\bclose\b/i.test(value));
}

/** Node's server calls destroySoon() once an answer that closes the connection is out; this lingers first. */
function lingerThenClose(socket: LingeringSocket, req: IncomingMessage): void {
  socket.destroySoon = function lingeringClose(this: LingeringSocket) {
    if (this.writable) this.end();
    let bytes = 0;
    const cut = () => {
      clearTimeout(total);
      clearTimeout(idle);
      req.off('data', onData).off('end', closeWhenSent).off('close', closeWhenSent);
      this.destroy();
    };
    // as Node's own destroySoon: the answer is flushed before the socket goes
    const closeWhenSent = () => {
      if (this.writableFinished) cut();
      else this.once('finish', cut);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > LINGER_MAX_BYTES) cut();
      else idle.refresh();
    };
    const total = setTimeout(cut, LINGER_MS);
    const idle = setTimeout(cut, LINGER_IDLE_MS);
    total.unref();
    idle.unref();
    this.once('close', cut);
    if (req.complete || req.destroyed) return closeWhenSent();
    req.on('data', onData).once('end', closeWhenSent).once('close', closeWhenSent);
    // flowing, whoever paused it: the rest is read and dropped
    req.resume();
  };
}

/** Arranges the lingering close for an answer to a request whose body is not all read. */
export function answeredBeforeBody(req: IncomingMessage, reply: FastifyReply): void {
  const socket = (reply.raw as ServerResponse).socket as LingeringSocket | null;
  if (req.complete || !socket || !hasBody(req)) return;
  if (!closesConnection(reply)) {
    if (smallRest(req)) return; // Node reads the rest and keeps the connection
    reply.header('connection', 'close');
  }
  lingerThenClose(socket, req);
}

/** Installs the lingering close on every answer of `app`. */
export function lingerAfterEarlyAnswers(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) answeredBeforeBody(request.raw, reply);
    done(null, payload);
  });
}
