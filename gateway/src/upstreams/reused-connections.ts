/**
 * The keep-alive race: an upstream (IIS after 120 s idle, Apache after 5 s, Tomcat, a load
 * balancer or firewall in between) closes an idle keep-alive connection just as the gateway
 * writes the next request on it. The FIN or RST crosses the request; undici reports "other side
 * closed" (UND_ERR_SOCKET) or ECONNRESET, and the request never had an answer. undici 7 sends
 * nothing again by itself (its `idempotent` option only governs pipelining), so the client got 502
 * `upstream-connection-lost` and the upstream a strike against its circuit for nothing.
 *
 * To tell that race from an upstream that fails, each error ending an upstream connection is
 * marked, as it is raised, with whether that connection had read any byte before: a listener
 * that runs before undici's. A connection that had, and whose current request saw no byte of its
 * answer (the exchange knows: onResponseStarted), had answered an earlier request: a reused one.
 * A TLS socket counts decrypted bytes only, so a handshake does not make a fresh connection look
 * reused. proxy/resend.ts decides whether such a request may go out once more.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

const kReadBefore = Symbol('ficus.readBefore');

type Marked = Error & { code?: string; [kReadBefore]?: boolean };

function markReadBefore(this: Socket, err: Marked): void {
  err[kReadBefore] ??= this.bytesRead > 0;
}

export function reusedConnectionsConnector(connect: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) (socket as unknown as Socket).prependListener('error', markReadBefore);
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}

/** How a connection that had read bytes before was lost (`closed`: FIN, `reset`: RST), or undefined. */
export type LostConnection = 'reused-connection-closed' | 'reused-connection-reset';

export function lostReusedConnection(err: Error & { code?: string }): LostConnection | undefined {
  if ((err as Marked)[kReadBefore] !== true) return undefined;
  switch (err.code) {
    case 'UND_ERR_SOCKET':
      return 'reused-connection-closed';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reused-connection-reset';
    default:
      return undefined;
  }
}
