/**
 * GET /ws/echo: a WebSocket that sends every message back, text as text and binary as
 * binary, for proving that upgrades pass through a proxy. A plain GET without the upgrade
 * gets 426 Upgrade Required.
 */
import type { FastifyInstance } from 'fastify';
import { sendLegacyError } from '../contract/errors.js';

export function registerEchoSocket(app: FastifyInstance) {
  app.route({
    method: 'GET',
    url: '/ws/echo',
    handler: (request, reply) => sendLegacyError(request, reply.header('upgrade', 'websocket'), 426, 'This endpoint speaks WebSocket only'),
    wsHandler: (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    },
  });
}
