/**
 * Whether a request lost to the keep-alive race (upstreams/reused-connections.ts) goes out once
 * more, as nginx (`proxy_next_upstream error`) and HAProxy (`retry-on conn-failure`) do. All of:
 *
 * - the connection it went out on had answered before: a fresh connection that closes without
 *   an answer is the upstream failing (502 and a strike against its circuit, as ever);
 * - no byte of its answer arrived, so none can have reached the client (the exchange checks);
 * - its method is idempotent (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE). A POST or PATCH
 *   may have been acted on before the connection went: a duplicate admission is worse than a 502;
 * - its body, if it has one, was read whole before it was sent: a streamed upload is not read
 *   again (the client's bytes are gone);
 * - it has not been sent again already: once at most.
 *
 * It goes on a connection of its own (Upstream.freshConnection), never another pooled one, which
 * may be as stale. The lost attempt is no strike against the circuit; the second one's outcome is
 * what the breaker hears.
 */
import { lostReusedConnection, type LostConnection } from '../upstreams/reused-connections.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Why a request whose attempt ended in `err` may be sent again (a metric label), or undefined. */
export function resendReason(err: Error & { code?: string }, method: string | undefined, replayableBody: boolean): LostConnection | undefined {
  if (!replayableBody || method === undefined || !IDEMPOTENT.has(method)) return undefined;
  return lostReusedConnection(err);
}
