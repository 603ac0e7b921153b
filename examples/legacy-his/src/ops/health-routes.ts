/**
 * GET /healthz (the process answers) and GET /readyz (and its database answers, quickly).
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';

const READY_TIMEOUT_MS = 2000;

export async function databaseUp(pool: pg.Pool, timeoutMs = READY_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([pool.query('SELECT 1').then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, pool: pg.Pool) {
  app.get('/healthz', async () => ({ status: 'UP' }));
  app.get('/readyz', async (_request, reply) => {
    const up = await databaseUp(pool);
    return reply.code(up ? 200 : 503).send({ status: up ? 'UP' : 'DOWN', database: up ? 'UP' : 'DOWN' });
  });
}
