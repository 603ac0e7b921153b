/**
 * The admin API is the one address admins, the CLI and the dashboard use; the other Ficus
 * components (the HL7 adapter, the CDC reader) serve their own API, and the admin API passes
 * their prefix through to them: method, path, query, body and the caller's Authorization
 * header, unchanged. Each component checks the same tokens and writes the same audit log, so
 * nothing is decided here. A component that does not answer gets a problem body: 503
 * `component-unavailable` (nothing listens, or it is starting), 504 `component-timeout`, or 502
 * `bad-component-response` (the connection broke mid-answer).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { sendProblem } from '@ficus/contracts';

export interface Component {
  /** what admins call it in messages ("HL7 adapter") */
  title: string;
  /** the OpenAPI tag of its routes */
  tag: string;
  /** the path prefix passed through, without a trailing slash ("/api/hl7") */
  prefix: string;
  /** the environment variable that says where its API is */
  env: string;
  /** where its API is (origin, no path), when known */
  url: string | undefined;
  /** for the OpenAPI document: the routes it serves under the prefix */
  routes: string;
  /** aborted at the end of the gateway's shutdown drain: a call in flight then ends at once */
  shutdown?: AbortSignal | undefined;
  /** how long its answer is waited for before a 504 (FICUS_COMPONENT_TIMEOUT_MS) */
  timeoutMs?: number;
}

/** The components whose APIs the admin API passes through, and where to find them by default. */
export function componentsFrom(
  env: { FICUS_HL7_API_URL: string; FICUS_CDC_API_URL: string; FICUS_PATIENT_SERVICE_API_URL?: string; FICUS_RESULTS_SERVICE_API_URL?: string; FICUS_COMPONENT_TIMEOUT_MS?: number },
  shutdown?: AbortSignal,
): Component[] {
  const components: Component[] = [
    {
      title: 'HL7 adapter',
      tag: 'hl7',
      prefix: '/api/hl7',
      env: 'FICUS_HL7_API_URL',
      url: env.FICUS_HL7_API_URL,
      routes:
        'GET /api/hl7/messages (type, trigger, controlId, facility, delivery, since, until, limit), GET /api/hl7/messages/{id}?raw=true, ' +
        'GET /api/hl7/emergency: the emergency override file of the adapter (the HL7 rules it holds in legacy), GET /api/hl7/dead-letters (target, all, limit), POST /api/hl7/replay {messageId | from, to; type, trigger, target, reason}, GET /api/hl7/stats?since=, ' +
        'GET /api/hl7/rejects (since, until, application, facility, peer, controlId, beforeId, limit): frames refused at intake, GET /api/hl7/rejects/{id}?raw=true, ' +
        "GET /api/hl7/queues/dead-letters (prefix, limit): messages a new service refused; POST /api/hl7/queues/dead-letters/replay and /discard {queue, id, reason}",
    },
    {
      title: 'CDC reader',
      tag: 'cdc',
      prefix: '/api/cdc',
      env: 'FICUS_CDC_API_URL',
      url: env.FICUS_CDC_API_URL,
      routes:
        'GET /api/cdc/status; GET /api/cdc/queues/dead-letters (prefix, limit): change batches a service or the legacy writer could not apply; ' +
        'POST /api/cdc/queues/dead-letters/replay {queue, id, reason, force} and /discard {queue, id, reason}',
    },
    // the extracted services: the CDC changes each recorded as conflicts, for review
    ...(['patient-service', 'results-service'] as const).map((service) => {
      const name = service === 'patient-service' ? 'FICUS_PATIENT_SERVICE_API_URL' : 'FICUS_RESULTS_SERVICE_API_URL';
      return {
        title: service,
        tag: 'services',
        prefix: `/api/services/${service}`,
        env: name,
        url: env[name],
        routes:
          `GET /api/services/${service}/conflicts (topic, key, since, all, limit, cursor): CDC changes the service did not apply (the conflict rule), without field values; ` +
          `GET /api/services/${service}/conflicts/{id}: one with its change (operator, audited); POST /api/services/${service}/conflicts/{id}/resolve {reason} (operator)`,
      };
    }),
  ];
  return components.map((c) => ({ ...c, shutdown, timeoutMs: env.FICUS_COMPONENT_TIMEOUT_MS ?? COMPONENT_TIMEOUT_MS }));
}

/** request headers passed on: what the component needs to authenticate, parse and log the call */
const PASSED = ['authorization', 'content-type', 'accept', 'user-agent', 'x-request-id'];
/** answer headers passed back */
const RETURNED = ['content-type', 'www-authenticate', 'retry-after', 'location'];
// the CLI waits 45 s (cli/src/admin-client.ts): it must hear this API's 504 before it gives up itself
export const COMPONENT_TIMEOUT_MS = 30_000;
export const COMPONENT_TIMEOUT_MAX_MS = 40_000;

async function forward(c: Component, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!c.url) return sendProblem(reply, 503, 'component-unavailable', `The ${c.title} is not configured`, `set ${c.env} to the ${c.title}'s API`);
  // the route matches the path as sent, and the URL resolves its dot segments (`..`, `%2e%2e`):
  // `/api/services/patient-service/../../patients/…` would reach the service's own API, which
  // takes no token (patient data), or any other route of a component. Only the prefix passes.
  const target = new URL(req.url, c.url);
  if (!target.pathname.startsWith(`${c.prefix}/`)) return sendProblem(reply, 400, 'invalid-request', 'Invalid request', `the path leaves ${c.prefix}/ (dot segments): not passed to the ${c.title}`);
  const headers: Record<string, string> = {};
  for (const name of PASSED) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  // the component's audit log records the caller as this API sees it (FICUS_ADMIN_TRUST_PROXY
  // decides whether that is a proxy's X-Forwarded-For or the socket), never what a caller claims
  headers['x-forwarded-for'] = req.ip;
  headers['x-request-id'] ??= req.id;
  const body = req.body instanceof Buffer && req.body.length > 0 ? req.body : undefined;
  let answer;
  try {
    answer = await request(target, {
      method: req.method as 'GET',
      headers,
      body,
      headersTimeout: c.timeoutMs ?? COMPONENT_TIMEOUT_MS,
      bodyTimeout: c.timeoutMs ?? COMPONENT_TIMEOUT_MS,
      signal: c.shutdown,
    });
  } catch (e) {
    return componentError(c, reply, e as Error & { code?: string });
  }
  let payload: Buffer;
  try {
    payload = Buffer.from(await answer.body.arrayBuffer());
  } catch (e) {
    return componentError(c, reply, e as Error & { code?: string });
  }
  void reply.code(answer.statusCode);
  for (const name of RETURNED) {
    const v = answer.headers[name];
    if (typeof v === 'string') void reply.header(name, v);
  }
  return reply.send(payload);
}

function componentError(c: Component, reply: FastifyReply, e: Error & { code?: string }): FastifyReply {
  const where = `the ${c.title} at ${c.url} (${c.env})`;
  if (c.shutdown?.aborted) {
    // the component may still do what was asked: the caller should look before trying again
    void reply.header('connection', 'close');
    return sendProblem(reply, 503, 'component-unavailable', 'The gateway is shutting down', `the call to ${where} was cut off by the gateway's shutdown; whether the ${c.title} acted on it is unknown: check before repeating it`);
  }
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return sendProblem(reply, 503, 'component-unavailable', `The ${c.title} is unavailable`, `${where} does not answer (${e.code}); is it running?`);
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return sendProblem(reply, 504, 'component-timeout', `The ${c.title} did not answer in time`, `${where} did not answer within ${(c.timeoutMs ?? COMPONENT_TIMEOUT_MS) / 1000} s`);
    default:
      return sendProblem(reply, 502, 'bad-component-response', `The ${c.title} answered badly`, `${where}: ${e.code ?? e.message}`);
  }
}

/** Registers the pass-through of each component's prefix (every method, every path below it). */
export async function componentRoutes(app: FastifyInstance, components: Component[]): Promise<void> {
  await app.register(async (scope) => {
    // bodies pass through as bytes: the component parses and validates them
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 10 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    for (const c of components) {
      const schema = {
        tags: [c.tag],
        summary: `Passed through to the ${c.title} (${c.env})`,
        description: `Every method and path under ${c.prefix}/ goes to the ${c.title}'s own API with the caller's Authorization header; it checks the same tokens and roles and writes the same audit log. Routes: ${c.routes}. When it does not answer: 503 component-unavailable, 504 component-timeout or 502 bad-component-response (problem+json).`,
      };
      scope.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: `${c.prefix}/*`, schema, handler: (req, reply) => forward(c, req, reply) });
    }
  });
}
