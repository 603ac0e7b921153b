/**
 * The legacy API's one error body: {"errorCode": "PAT-404", "errorMessage": "...", "details"?: [...]}.
 * The code is "<module>-<HTTP status>"; clients of the old system branch on the status, the
 * code and `details[].field`, so every error, fastify's own included (validation, bad JSON,
 * media type, size, unknown route), is turned into it: by the stand-in and by every service
 * that replaces one of its endpoints, through this one module.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isUnavailable } from '@ficus/contracts';
import { lingerAfterEarlyAnswers } from './lingering-close.js';

export interface ErrorDetail {
  /** the offending input: a body field ("address.zip"), a query parameter or a path parameter */
  field: string;
  issue: string;
}

export interface LegacyErrorBody {
  errorCode: string;
  errorMessage: string;
  details?: ErrorDetail[];
}

export class LegacyError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorMessage: string,
    readonly details?: ErrorDetail[],
  ) {
    super(errorMessage);
  }
}

/** the module part of the error code, from the route that failed (unknown routes are HIS) */
export function errorModuleFor(path: string | undefined): string {
  if (!path) return 'HIS';
  if (path.startsWith('/api/patients')) return 'PAT';
  if (path.startsWith('/api/encounters')) return 'ENC';
  if (path.startsWith('/api/results')) return 'LAB';
  if (path.startsWith('/files')) return 'FIL';
  if (path.startsWith('/reports') || path.startsWith('/export')) return 'RPT';
  return 'HIS';
}

export function sendLegacyError(request: FastifyRequest, reply: FastifyReply, status: number, message: string, details?: ErrorDetail[]) {
  const body: LegacyErrorBody = { errorCode: `${errorModuleFor(request.routeOptions.url)}-${status}`, errorMessage: message };
  if (details && details.length > 0) body.details = details;
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: { description?: string };
}

/** ajv's findings as field/issue pairs, worded for a person rather than for a schema author */
export function validationDetails(errors: readonly AjvError[], context: string | undefined): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const e of errors) {
    const base = e.instancePath.split('/').filter(Boolean).join('.');
    const join = (name: unknown) => (base ? `${base}.${String(name)}` : String(name));
    let field = base || context || 'request';
    let issue: string;
    switch (e.keyword) {
      case 'required':
        field = join(e.params.missingProperty);
        issue = 'is required';
        break;
      case 'additionalProperties':
        field = join(e.params.additionalProperty);
        issue = 'is not allowed';
        break;
      case 'type':
        issue = `must be ${String(e.params.type)}`;
        break;
      case 'enum':
        issue = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => (v === null ? 'null' : String(v))).join(', ')}`;
        break;
      case 'minLength':
        issue = e.params.limit === 1 ? 'must not be empty' : `must be at least ${String(e.params.limit)} characters`;
        break;
      case 'maxLength':
        issue = `must be at most ${String(e.params.limit)} characters`;
        break;
      case 'format':
        issue = e.params.format === 'date' ? 'must be a calendar date YYYY-MM-DD' : `must be a valid ${String(e.params.format)}`;
        break;
      case 'pattern':
        issue = e.parentSchema?.description ? `must be ${e.parentSchema.description}` : 'is not in the expected format';
        break;
      default:
        issue = e.message ?? 'is invalid';
    }
    const key = `${field}\u0000${issue}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push({ field, issue });
    }
  }
  return details;
}

const CLIENT_ERROR_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body is empty',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
};

/** error fields safe to log: never a message that could quote request data (a pg detail, a JSON fragment) */
export function loggableError(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; code?: string; constraint?: string; routine?: string };
  return { errName: e.name, errCode: e.code, constraint: e.constraint, routine: e.routine };
}

/** seconds a client is asked to wait after a 503 for a database outage */
const UNAVAILABLE_RETRY_AFTER_S = 5;

/** The legacy error handling for a scope (the whole app, or the legacy API's part of it). */
export function registerLegacyErrors(app: FastifyInstance) {
  app.setNotFoundHandler((request, reply) => sendLegacyError(request, reply, 404, 'No such resource'));

  app.setErrorHandler((err: FastifyError | LegacyError, request, reply) => {
    if (err instanceof LegacyError) return sendLegacyError(request, reply, err.statusCode, err.errorMessage, err.details);
    if ('validation' in err && err.validation) {
      const context = err.validationContext;
      const details = validationDetails(err.validation as unknown as AjvError[], context === 'querystring' ? 'query' : context);
      return sendLegacyError(request, reply, 400, context === 'body' ? 'Invalid request body' : 'Invalid request parameters', details);
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // fastify's own client errors: bad JSON (SyntaxError carries a fragment of the body), wrong media type, too large
      const message = (err.code && CLIENT_ERROR_MESSAGES[err.code]) ?? (err instanceof SyntaxError ? 'Request body is not valid JSON' : 'Bad request');
      return sendLegacyError(request, reply, status, message);
    }
    if (isUnavailable(err)) {
      // the database away (down, restarting, a failover, a deadlock): nothing was written, and
      // a client may send it again; 500 told it the request itself was at fault
      request.log.warn({ route: request.routeOptions.url, ...loggableError(err) }, 'request refused: the database is not available');
      void reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_S));
      return sendLegacyError(request, reply, 503, 'Service temporarily unavailable; try again shortly');
    }
    request.log.error({ route: request.routeOptions.url, ...loggableError(err) }, 'request failed');
    return sendLegacyError(request, reply, 500, 'Internal error');
  });
}

/** How the legacy API validates: every problem of a request at once, nothing coerced or dropped silently. */
export const LEGACY_AJV_OPTIONS = {
  customOptions: {
    allErrors: true,
    coerceTypes: false,
    removeAdditional: false,
    // the schema's description words the "pattern" errors
    verbose: true,
  },
} as const;

/**
 * A fastify instance that validates as the legacy API does, logging through `log` without
 * fastify's own request log (it prints URLs, and URLs here carry MRNs, names and birth dates).
 * The caller registers the error handling (registerLegacyErrors) and its routes.
 */
export function legacyApiServer(log: FastifyBaseLogger, opts: { trustProxy?: false | string } = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: log,
    // whose X-Forwarded-For request.ip believes (an extracted service behind the admin API's pass-through)
    trustProxy: opts.trustProxy ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    ajv: LEGACY_AJV_OPTIONS,
  });
  // an early answer (a 413 from a body limit) reaches the client instead of a reset
  lingerAfterEarlyAnswers(app);
  return app;
}
