/**
 * An upstream that answers an upload early (a 413 from a body limit) and closes with the rest of
 * the body unread resets the connection. Its answer is already in the gateway's socket, but the
 * next body chunk written meets the reset (EPIPE, ECONNRESET), Node destroys the socket at once
 * and undici reports the write error without ever reading the answer: the client got 502
 * instead of the upstream's 413 about two times in three (5 MB PUTs to the legacy stand-in).
 *
 * So a write that fails that way no longer destroys the socket: the rest of the body is dropped
 * (the connection is gone, nothing more can be sent) and the socket stays open for reading. What
 * the upstream sent before the reset is read and parsed as usual; the read side then meets the
 * reset itself, and undici takes a complete answer with `Connection: close` as the answer, or
 * reports the error. Whatever error ends such a connection is marked, so the exchange can tell
 * that the upstream closed while the request body was still being sent: that answer is the
 * client's body's doing, not the upstream failing (no strike against its circuit).
 *
 * Writes go through `_write`/`_writev` of the socket instance (Node's stream internals call them
 * with a completion callback); only the two reset codes are held back.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

const kCutWhileSending = Symbol('ficus.cutWhileSending');

/** How long the read side may take to report the reset before the socket is destroyed anyway. */
export const READ_AFTER_RESET_MS = 2_000;

type WriteCallback = (err?: Error | null) => void;
type ResetSocket = Socket & {
  _write(chunk: unknown, encoding: BufferEncoding, cb: WriteCallback): void;
  _writev?(chunks: unknown[], cb: WriteCallback): void;
};

/** Whether `err` ended a connection whose writing had already met the upstream's reset. */
export function cutWhileSending(err: Error): boolean {
  return (err as { [kCutWhileSending]?: boolean })[kCutWhileSending] === true;
}

function isReset(err: Error | null | undefined): err is Error & { code: string } {
  const code = (err as { code?: string } | null | undefined)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}

function mark(err: Error): void {
  (err as { [kCutWhileSending]?: boolean })[kCutWhileSending] = true;
}

function guard(socket: ResetSocket): void {
  let reset: Error | undefined;
  const failed = (err: Error) => {
    reset = err;
    mark(err);
    // runs before undici's own listener: the error it gets says how the connection ended
    socket.prependListener('error', mark);
    const timer = setTimeout(() => socket.destroy(err), READ_AFTER_RESET_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  const wrap =
    (cb: WriteCallback): WriteCallback =>
    (err) => {
      if (!isReset(err)) return cb(err);
      if (!reset) failed(err);
      cb();
    };
  const write = socket._write;
  socket._write = function (chunk, encoding, cb) {
    if (reset) return cb();
    write.call(this, chunk, encoding, wrap(cb));
  };
  const writev = socket._writev;
  if (writev) {
    socket._writev = function (chunks, cb) {
      if (reset) return cb();
      writev.call(this, chunks, wrap(cb));
    };
  }
}

export function readAfterResetConnector(connect: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) guard(socket as unknown as ResetSocket);
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}
