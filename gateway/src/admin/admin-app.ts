/**
 * The admin API (port 8081): fastify, a JSON schema on every route, the OpenAPI document at
 * /openapi.json, bearer or OIDC authentication with roles, and an audit entry for every
 * write, refused and denied ones included.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { installAdminAuth, type AuditLog, type Authenticator, type Logger, type ParityStore, type RuleStore, type TokenStore } from '@ficus/contracts';
import { answerError, sendProblem } from './admin-http.js';
import { componentRoutes, type Component } from './component-forwarder.js';
import type { ControlPlane } from './control-plane.js';
import { auditRoutes, tokenRoutes } from './routes/audit-and-token-routes.js';
import { dashboardRoutes, DEFAULT_DASHBOARD_DIR } from './dashboard.js';
import { parityRoutes } from './routes/parity-routes.js';
import { ruleRoutes } from './routes/rule-routes.js';
import { upstreamRoutes, type InstanceView } from './routes/upstream-routes.js';
import { versionRoutes } from './routes/version-routes.js';
import type { RouterOptions } from '../routing/router.js';

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
  /** this instance's upstreams (health, circuits: for explain and /api/upstreams) and the rules it serves now */
  instance: InstanceView;
  /** how the gateway matches paths (for explain) */
  routing?: RouterOptions;
  /** parity and traffic figures of every instance */
  parity: ParityStore;
  /** the built dashboard (default gateway/dashboard/dist) */
  dashboardDir?: string;
  /** the other components whose APIs are passed through (/api/hl7, /api/cdc) */
  components: Component[];
}

export async function buildAdminApp(d: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: d.trustProxy, ajv: { customOptions: { removeAdditional: false, multipleOfPrecision: 6 } } });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Ficus admin API',
        version: '1',
        description:
          'Routing rules, versions, audit and tokens of the Ficus gateway, this instance\'s upstreams (health and circuits), and, passed through, the APIs of the HL7 adapter (/api/hl7) and the CDC reader (/api/cdc). Every route but /healthz, /readyz and /openapi.json needs a bearer token.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  installAdminAuth(app, d.auth, d.audit, d.log);

  app.setErrorHandler((err, _request, reply) => answerError(reply, err as Error & { validation?: unknown; statusCode?: number }));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not-found', 'Not found', `no route ${request.method} ${request.url.split('?')[0]}`));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const up = await d.storeReachable();
    return reply.code(up ? 200 : 503).send({ status: up ? 'ready' : 'store-unreachable' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  ruleRoutes(app, d.cp, (name) => d.instance.upstreams.get(name)?.breaker.current, d.routing, d.instance.emergency);
  versionRoutes(app, d.cp, d.store);
  auditRoutes(app, d.audit);
  tokenRoutes(app, d.tokens, d.cp);
  parityRoutes(app, d.cp, d.parity);
  upstreamRoutes(app, d.instance);
  await dashboardRoutes(app, d.dashboardDir ?? DEFAULT_DASHBOARD_DIR);
  await componentRoutes(app, d.components);
  await app.ready();
  return app;
}
