/**
 * The admin API (port 8081): fastify, a JSON schema on every route, the OpenAPI document at
 * /openapi.json, bearer or OIDC authentication with roles, and an audit entry for every
 * write, refused and denied ones included.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { type AuditLog, type Authenticator, type Logger, roleAtLeast, type RuleStore, type TokenStore } from '@ficus/contracts';
import { answerError, originOf, outcomeOf, reasonOf, sendProblem } from './admin-http.js';
import type { ControlPlane } from './control-plane.js';
import { auditRoutes, tokenRoutes } from './routes/audit-and-token-routes.js';
import { ruleRoutes } from './routes/rule-routes.js';
import { versionRoutes } from './routes/version-routes.js';

export interface AdminDeps {
  cp: ControlPlane;
  store: RuleStore;
  audit: AuditLog;
  tokens: TokenStore;
  auth: Authenticator;
  log: Logger;
  /** is the rule store reachable? (for /readyz) */
  storeReachable: () => Promise<boolean>;
  trustProxy: boolean;
  /** this instance's circuit state of an upstream (for explain) */
  circuitOf: (upstream: string) => string | undefined;
}

export async function buildAdminApp(d: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: d.trustProxy, ajv: { customOptions: { removeAdditional: false } } });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Ficus admin API', version: '1', description: 'Routing rules, versions, audit and tokens of the Ficus gateway. Every route but /healthz, /readyz and /openapi.json needs a bearer token.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // who is calling, and may they? (after the body is parsed, so a denied write's reason is kept)
  app.addHook('preValidation', async (request, reply) => {
    const need = request.routeOptions.config.role;
    if (!need) return;
    const result = await d.auth.authenticate(request.headers.authorization);
    const action = request.routeOptions.config.audit;
    const target = (request.params as { id?: string } | undefined)?.id;
    if (!result.ok) {
      if (action) {
        request.audited = true;
        await d.cp.record(undefined, originOf(request), { action, target, reason: reasonOf(request), outcome: 'denied', status: 401, detail: { why: result.reason } }).catch(() => undefined);
      }
      void reply.header('www-authenticate', 'Bearer realm="ficus-admin"');
      return sendProblem(reply, 401, 'unauthorized', 'Authentication required', result.reason);
    }
    request.principal = result.principal;
    if (!roleAtLeast(result.principal.role, need)) {
      if (action) {
        request.audited = true;
        await d.cp.record(result.principal, originOf(request), { action, target, reason: reasonOf(request), outcome: 'denied', status: 403, detail: { need } }).catch(() => undefined);
      }
      return sendProblem(reply, 403, 'forbidden', 'Not allowed', `this needs the role "${need}"; the caller has "${result.principal.role}"`);
    }
  });

  // writes that ended without a version (refused, conflicting, failed) are on the record too
  app.addHook('onResponse', async (request, reply) => {
    const action = request.routeOptions.config?.audit;
    if (!action || request.audited) return;
    await d.cp
      .record(request.principal, originOf(request), {
        action,
        target: request.auditTarget ?? (request.params as { id?: string } | undefined)?.id,
        reason: reasonOf(request),
        outcome: outcomeOf(reply.statusCode),
        status: reply.statusCode,
      })
      .catch((e: Error) => d.log.error({ err: e.message, action }, 'cannot write the audit entry of a refused change'));
  });

  app.setErrorHandler((err, _request, reply) => answerError(reply, err as Error & { validation?: unknown; statusCode?: number }));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not-found', 'Not found', `no route ${request.method} ${request.url.split('?')[0]}`));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const up = await d.storeReachable();
    return reply.code(up ? 200 : 503).send({ status: up ? 'ready' : 'store-unreachable' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  ruleRoutes(app, d.cp, d.circuitOf);
  versionRoutes(app, d.cp, d.store);
  auditRoutes(app, d.audit);
  tokenRoutes(app, d.tokens, d.cp);
  await app.ready();
  return app;
}
