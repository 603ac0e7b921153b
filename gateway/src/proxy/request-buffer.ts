/**
 * Request bodies up to a limit are read from the client before an upstream connection is
 * taken, as nginx does by default (`proxy_request_buffering on`): a client that sends a small
 * body slowly (a ward PC on a bad network, or 128 of them one byte a second) then holds no
 * pooled connection, which the other clients of that upstream need. Larger bodies still stream
 * with back-pressure (a 100 MB upload is never held in memory): a body with a Content-Length
 * over the limit streams at once; a chunked one is read until it passes the limit, and what
 * was read is put back in front of the rest (`unshift`) to stream from there.
 *
 * A streamed body that waits for a connection (upstreams/connection-gate.ts) is read ahead up to
 * the same limit meanwhile: a client that leaves is then seen leaving, and its request dropped
 * from the queue. A paused socket would not tell: its close stays behind the unread bytes.
 *
 * The client's request timeout (FICUS_CLIENT_REQUEST_TIMEOUT_MS) applies while a body is read:
 * Node's server enforces it whoever reads.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/** 64 KiB: a clinical JSON document or form fits many times over; 1,000 slow clients hold 64 MB at most. */
export const DEFAULT_REQUEST_BUFFER_BYTES = 64 * 1024;

/** Whether a body is worth trying to read first: a declared length within the limit, or chunked. */
export function worthBuffering(req: IncomingMessage, limit: number): boolean {
  if (limit <= 0) return false;
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) <= limit;
  return req.headers['transfer-encoding'] !== undefined;
}

/** The whole body; `'stream'` when it passed the limit (put back into `src`); `null` when the client left. */
export type BufferOutcome = Buffer | 'stream' | null;

/**
 * Reads `src` (the request, or the pass-through a shadowed write is copied through) up to
 * `limit` bytes. The answer is a stop function: what was read so far is put back into `src`,
 * which is left paused, and `done` is never called.
 */
export function readSmallBody(src: Readable, limit: number, done: (outcome: BufferOutcome) => void): () => void {
  const chunks: Buffer[] = [];
  let size = 0;
  let reading = true;
  const cleanup = () => {
    reading = false;
    src.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
  };
  const putBack = () => {
    // paused before the listener goes: a flowing stream without one would drop what comes next
    src.pause();
    cleanup();
    if (size > 0) src.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size <= limit) return;
    putBack();
    done('stream');
  };
  const onEnd = () => {
    cleanup();
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onGone = () => {
    cleanup();
    done(null);
  };
  src.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
  return () => {
    if (reading) putBack();
  };
}
