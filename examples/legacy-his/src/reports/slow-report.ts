/**
 * GET /reports/slow?delayMs=N: a report that takes its time, for proving that timeouts in
 * front of the legacy system are long enough. A client that hangs up cancels the wait.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LegacyError } from '../contract/errors.js';

export const MAX_SLOW_DELAY_MS = 60_000;
const SlowQuery = Type.Object({
  delayMs: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$', description: 'a whole number of milliseconds from 0 to 60000' })),
});
type SlowQuery = Static<typeof SlowQuery>;

export function registerSlowReport(app: FastifyInstance) {
  app.get<{ Querystring: SlowQuery }>('/reports/slow', { schema: { querystring: SlowQuery } }, async (request, reply) => {
    const delayMs = request.query.delayMs === undefined ? 2000 : Number(request.query.delayMs);
    if (delayMs > MAX_SLOW_DELAY_MS) {
      throw new LegacyError(400, 'Invalid request parameters', [{ field: 'delayMs', issue: `must be at most ${MAX_SLOW_DELAY_MS}` }]);
    }
    const hangUp = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableEnded) hangUp.abort();
    };
    reply.raw.once('close', onClose);
    try {
      await sleep(delayMs, undefined, { signal: hangUp.signal });
    } catch {
      // the client left: nobody to answer (fastify sends nothing on a closed socket)
      return undefined;
    } finally {
      reply.raw.off('close', onClose);
    }
    return reply.type('text/plain; charset=utf-8').send(`SLOW REPORT COMPLETE\nDELAY MS: ${delayMs}\n`);
  });
}
