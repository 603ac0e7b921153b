/**
 * Whether a request lost to the keep-alive race (upstreams/reused-connections.ts) goes out once
 * more, as nginx (`proxy_next_upstream error`) and HAProxy (`retry-on conn-failure`) do. In both
 * cases the connection it was given to had answered before: a fresh connection that closes
 * without an answer is the upstream failing (502 and a strike against its circuit, as ever).
 *
 * Never written (`reused-connection-lost-unsent`), any method: undici had not begun to write it.
 * undici calls a handler's onConnect just before it writes the first byte of a request
 * (client-h1.js writeH1, client-h2.js writeH2; nowhere else), so an error with no onConnect
 * before it means the upstream cannot have seen a byte of it. It happens when the upstream
 * resets an idle connection just after undici took the request for it: undici holds a request
 * for one turn of the event loop before writing it on a reused connection (to see a close
 * already on its way), and a reset read in that turn fails the requests it holds (ECONNRESET;
 * a FIN read then makes undici queue them again itself). A POST got 502 and its upstream a
 * strike for a request never sent. Its body is given again as it was: a buffer, or the stream
 * undici never read.
 *
 * Written, then lost with no byte of an answer: sent again only when all of these hold, since
 * nothing tells whether the upstream read it before the connection went:
 * - no byte of its answer arrived, so none can have reached the client (the exchange checks);
 * - its method is idempotent (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE). A POST or PATCH
 *   may have been acted on before the connection went: a duplicate admission is worse than a 502;
 * - its body, if it has one, was read whole before it was sent: a streamed upload is not read
 *   again (the client's bytes are gone).
 *
 * Either way once at most, on a connection of its own (Upstream.freshConnection), never another
 * pooled one, which may be as stale. The lost attempt is no strike against the circuit; the
 * second one's outcome is what the breaker hears.
 */
import { lostReusedConnection, type LostConnection } from '../upstreams/reused-connections.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** A reused connection lost before undici wrote any byte of the request on it. */
export const LOST_UNSENT = 'reused-connection-lost-unsent';

export type ResendReason = LostConnection | typeof LOST_UNSENT;

/**
 * Why a request whose attempt ended in `err` may be sent again (a metric label), or undefined.
 * `written`: undici called onConnect for this attempt (when unknown, say true).
 */
export function resendReason(err: Error & { code?: string }, method: string | undefined, replayableBody: boolean, written: boolean): ResendReason | undefined {
  if (!written) return lostReusedConnection(err) === undefined ? undefined : LOST_UNSENT;
  if (!replayableBody || method === undefined || !IDEMPOTENT.has(method)) return undefined;
  return lostReusedConnection(err);
}
