/**
 * The migration dashboard at /admin on the admin port: the files built from gateway/dashboard
 * (Vite; `npm start`, `npm test` and the image build them). The files hold no data; every
 * figure comes from the admin API with the bearer token the login page takes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from './admin-http.js';

export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

export async function dashboardRoutes(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(`${dir}/index.html`)) {
    const missing = async (_req: unknown, reply: Parameters<typeof sendProblem>[0]) =>
      sendProblem(reply, 503, 'dashboard-not-built', 'The dashboard is not built', `no ${dir}/index.html: run \`npm run build:dashboard\``);
    app.get('/admin', { schema: { hide: true } }, missing);
    app.get('/admin/*', { schema: { hide: true } }, missing);
    return;
  }
  app.get('/admin', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/admin/', 302));
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/admin/',
    dotfiles: 'deny',
    index: ['index.html'],
    // hashed asset names change with every build; the page itself is always revalidated
    setHeaders(res, file: string) {
      res.header('cache-control', file.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
      if (file.endsWith('.html')) res.header('content-security-policy', "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    },
  });
}
