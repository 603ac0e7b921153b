/**
 * Writing the head of an upstream's answer to the client.
 *
 * A `Trailer` header announces fields sent after a chunked body. Node refuses it
 * (ERR_HTTP_TRAILER_INVALID) on an answer it will not send chunked: to an HTTP/1.0 client, with
 * a Content-Length, or without a body (HEAD, 204, 304). There the trailers cannot be sent at
 * all, so the announcement goes (and the trailers with it, see `sendsTrailers`) and the body is
 * relayed; before, the client got "502 OK" for a healthy answer.
 */
import type { ServerResponse } from 'node:http';
import type { ResponseFraming } from './headers.js';

/** Whether Node will send this answer chunked (its own rule in OutgoingMessage._storeHeader; Transfer-Encoding is never relayed). */
function willBeChunked(res: ServerResponse, method: string | undefined, status: number, framing: ResponseFraming): boolean {
  return framing.contentLength < 0 && res.useChunkedEncodingByDefault && status !== 204 && status !== 304 && method !== 'HEAD';
}

function dropTrailerHeader(headers: string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]!;
    if (name.length === 7 && name.toLowerCase() === 'trailer') headers.splice(i, 2);
  }
}

/** `headers` as clientResponseHeaders made them (flat name, value list); `framing` filled by it. */
export function writeResponseHead(res: ServerResponse, method: string | undefined, status: number, statusText: string, headers: string[], framing: ResponseFraming): void {
  if (!willBeChunked(res, method, status, framing)) dropTrailerHeader(headers);
  try {
    res.writeHead(status, statusText, headers);
  } catch (e) {
    // writeHead sets the reason phrase before it validates: the 502 that follows must not say "OK"
    res.statusMessage = '';
    throw e;
  }
}

/**
 * Ends a client connection in the middle of an answer the upstream failed to finish. An answer
 * whose end the client can check (a Content-Length, a chunked body's last chunk) is cut as it
 * is. One delimited by the connection's end (an HTTP/1.0 client, or an upstream that sent
 * neither) would end as a whole one does: a FIN after the last byte, and curl, wget and Python
 * took the truncated file as complete. So that connection is reset (RST), which every client
 * reports as a failed transfer.
 */
export function cutAnswer(res: ServerResponse, framing: ResponseFraming, err?: Error): void {
  const socket = res.socket;
  if (framing.contentLength < 0 && !res.chunkedEncoding && socket && !socket.destroyed) socket.resetAndDestroy();
  else res.destroy(err);
}

/** Trailers reach the client only on a chunked answer; on any other Node would drop them anyway. */
export function sendsTrailers(res: ServerResponse): boolean {
  return res.chunkedEncoding;
}
