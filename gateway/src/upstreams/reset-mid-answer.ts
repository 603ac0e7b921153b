/**
 * An upstream connection reset (RST) in the middle of an answer ends that answer as a failure.
 *
 * undici 7 takes an ECONNRESET on a connection that is not kept alive, once an answer has
 * begun, for that answer's end ("On Mac OS, we get an ECONNRESET even if there is a full body",
 * client-h1.js onHttpSocketError): it finishes the parser, and a body delimited by the
 * connection's end (no Content-Length, no chunks: HTTP/1.0 style) is then complete. The gateway
 * ended the client's answer normally, a terminating chunk and all, and a chart the upstream
 * never finished sending looked whole. A reset says nothing of the kind: a server that dies, or
 * closes with unread input, resets, and the kernel drops what it had not sent yet; nginx too
 * takes a read error there as the upstream failing ("upstream prematurely closed").
 *
 * So a listener that runs before undici's marks such a parser as kept alive: undici then takes
 * the reset as the error it is, and the exchange cuts the client's answer. Answers with a
 * Content-Length or chunks already failed there (the parser's finish saw them short); they now
 * fail the same way, without undici asserting on a parser that back-pressure had paused. An
 * answer already complete has no status on the parser any more and is not touched.
 *
 * Per connection, never per request. The parser is found as paused-end-guard.ts finds it; should
 * a later undici rename it, nothing is changed and gateway/test/answers-cut-by-reset.test.ts fails.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { parserOf } from './paused-end-guard.js';

interface AnswerParser {
  /** of the answer being read, 0 between answers */
  statusCode?: number;
  shouldKeepAlive?: boolean;
}

function onError(this: Socket, err: Error & { code?: string }): void {
  if (err.code !== 'ECONNRESET') return;
  const parser = parserOf(this) as AnswerParser | undefined;
  if (parser?.statusCode && !parser.shouldKeepAlive) parser.shouldKeepAlive = true;
}

export function resetMidAnswerConnector(connect: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) (socket as unknown as Socket).prependListener('error', onError);
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}
