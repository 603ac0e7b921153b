/**
 * Works around an undici 7 bug that would kill the gateway process (nodejs/undici#5360,
 * fixed only in undici 8, which needs Node 22): when an upstream ends a connection that is
 * not kept alive while its HTTP parser is paused by back-pressure, undici's socket 'end'
 * handler asserts `!paused` and throws where nothing can catch it.
 *
 * The exchange avoids the common cases itself (it never pauses on the chunk that completes a
 * body, nor on bodies delimited by the connection's end). What remains is an upstream that
 * dies mid-body while a slow client holds the parser paused. For that, every upstream socket
 * gets an 'end'/'close' listener that runs before undici's: if the parser is paused, the
 * answer is truncated anyway, so the socket is destroyed with a clear error, which undici
 * reports to the exchange (the client connection is cut, never handed a short body as whole).
 *
 * The parser is found by its symbol's description; if a later undici renames it, the guard
 * does nothing (and the regression test in gateway/test tells).
 */
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

type ParserLike = { paused?: boolean };

let parserSymbol: symbol | undefined;

/** undici's parser of an upstream connection (once undici has set it up), or undefined. */
export function parserOf(socket: Socket): ParserLike | undefined {
  parserSymbol ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser');
  return parserSymbol ? ((socket as unknown as Record<symbol, ParserLike | null>)[parserSymbol] ?? undefined) : undefined;
}

export class TruncatedUpstreamResponseError extends Error {
  code = 'UND_ERR_SOCKET';
  constructor() {
    super('the upstream closed the connection in the middle of a response');
  }
}

function guard(this: Socket): void {
  const parser = parserOf(this);
  if (parser?.paused) {
    parser.paused = false;
    this.destroy(new TruncatedUpstreamResponseError());
  }
}

export function guardedConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) {
        socket.prependListener('end', guard);
        socket.prependListener('close', guard);
      }
      // undici's connector callback has two overloads; pass through what we got
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}
