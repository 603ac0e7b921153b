/**
 * WebSocket routes, without the WebSocket plugin taking every other route's upgrades.
 *
 * Once anything listens for the server's 'upgrade' event, Node hands it every request that asks
 * for an upgrade (Connection: Upgrade), whatever its path. With @fastify/websocket registered
 * for the whole app, an upgrade request to a REST route got 101 and was closed at once, and the
 * plugin logged its path and query (names, birth dates) at info. So the plugin lives in a scope
 * of its own that holds the socket routes only, and every other route answers an upgrade request
 * as a server that ignores the Upgrade header does (RFC 9110 §7.8): its normal answer, or the
 * legacy's own error. Node's HTTP server let go of that connection with the 'upgrade' event
 * (nobody would read a next request from it), so the answer says Connection: close and the
 * socket is ended after it.
 */
import type { IncomingMessage } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';

export async function registerSocketRoutes(app: FastifyInstance, routes: (scope: FastifyInstance) => void): Promise<void> {
  const upgrades = new WeakSet<IncomingMessage>();
  // first, so that the request is known as an upgrade before the plugin routes it
  app.server.prependListener('upgrade', (request: IncomingMessage) => upgrades.add(request));
  app.addHook('onRequest', async (request, reply) => {
    // a socket route takes the connection over (hijack) and never sends this header
    if (upgrades.has(request.raw)) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request) => {
    if (upgrades.has(request.raw)) request.raw.socket.end();
  });
  await app.register(async (scope) => {
    // every route of this scope must have a wsHandler: the plugin answers an upgrade to any other with 101, then closes it and logs its URL
    await scope.register(websocket, { options: { maxPayload: 16 * 1024 * 1024 } });
    routes(scope);
  });
}
