/**
 * FHIR R4 over HTTP for the services' `/fhir/` endpoints: `application/fhir+json`, errors as
 * OperationOutcome (never the legacy error shape); searchset Bundles and paging are fhir-paging.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loggableError } from '@ficus/legacy-his/contract';
import { fhirJson } from './fhir-decimal.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export const FHIR_VERSION = '4.0.1';

export type IssueCode = 'invalid' | 'not-found' | 'not-supported' | 'exception' | 'processing' | 'too-costly' | 'multiple-matches' | 'informational';

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: { severity: 'fatal' | 'error' | 'warning' | 'information'; code: IssueCode; diagnostics: string; expression?: string[] }[];
}

export class FhirError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: IssueCode,
    readonly diagnostics: string,
    readonly expression?: string,
  ) {
    super(diagnostics);
  }
}

export function operationOutcome(code: IssueCode, diagnostics: string, expression?: string): OperationOutcome {
  const severity = code === 'exception' ? 'fatal' : code === 'informational' ? 'information' : 'error';
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics, ...(expression ? { expression: [expression] } : {}) }] };
}

export function sendFhir(reply: FastifyReply, body: unknown, status = 200) {
  return reply.code(status).type(FHIR_JSON).send(fhirJson(body));
}

/**
 * Refuses a search parameter this endpoint does not implement (400 not-supported): FHIR lets a
 * server ignore one, but ignoring `name` answered every patient to a name search, so an
 * unsupported parameter never widens a search here.
 */
export function onlyParameters(request: FastifyRequest, supported: readonly string[]): void {
  const unknown = Object.keys(request.query as Record<string, unknown>).filter((name) => !supported.includes(name));
  if (unknown.length > 0) {
    throw new FhirError(400, 'not-supported', `search parameter ${unknown.join(', ')} is not supported here; supported: ${supported.join(', ')}`, unknown[0]);
  }
}

/** The base of absolute URLs (Bundle fullUrl, links): configured, else from the request. */
export function fhirBase(request: FastifyRequest, configured: string | undefined): string {
  if (configured) return configured.replace(/\/$/, '');
  const host = request.headers.host ?? 'localhost';
  return `${request.protocol}://${host}/fhir`;
}

export interface BundleEntry {
  fullUrl: string;
  resource: object;
  search: { mode: 'match' | 'include' };
}

/** A query parameter given once, or undefined; a repeated one is refused where it makes no sense. */
export function single(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown>)[name];
  if (Array.isArray(v)) throw new FhirError(400, 'invalid', `${name} may be given only once`, name);
  return typeof v === 'string' ? v : undefined;
}

/** All values of a parameter that may repeat (each repetition ANDs, as FHIR search says). */
export function repeated(request: FastifyRequest, name: string): string[] {
  const v = (request.query as Record<string, unknown>)[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/**
 * Registers FHIR routes in a scope of their own under /fhir: its own not-found and error
 * handlers answer OperationOutcome, whatever the rest of the service answers.
 */
export async function registerFhirScope(app: FastifyInstance, routes: (fhir: FastifyInstance) => void): Promise<void> {
  await app.register(
    async (fhir) => {
      fhir.setNotFoundHandler((_request, reply) => sendFhir(reply, operationOutcome('not-found', 'no such FHIR endpoint here'), 404));
      fhir.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
        if (err instanceof FhirError) return sendFhir(reply, operationOutcome(err.code, err.diagnostics, err.expression), err.statusCode);
        // a date or time PostgreSQL refuses (22007, 22008) is the request's fault, whatever slipped past the checks
        const sqlState = (err as { code?: unknown }).code;
        if (typeof sqlState === 'string' && /^2200[78]$/.test(sqlState)) {
          return sendFhir(reply, operationOutcome('invalid', 'a date or time in the request is not valid'), 400);
        }
        const status = err.statusCode ?? 500;
        if (err.validation || (status >= 400 && status < 500)) return sendFhir(reply, operationOutcome('invalid', 'the request is not valid'), status >= 400 && status < 500 ? status : 400);
        request.log.error({ route: request.routeOptions.url, ...loggableError(err) }, 'FHIR request failed');
        return sendFhir(reply, operationOutcome('exception', 'internal error'), 500);
      });
      routes(fhir);
    },
    { prefix: '/fhir' },
  );
}

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference';

/** The CapabilityStatement of what a service serves (GET /fhir/metadata). */
export function capabilityStatement(software: string, resources: { type: string; searchParams: Record<string, SearchParamType> }[]) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2024-07-01',
    kind: 'instance',
    software: { name: software },
    fhirVersion: FHIR_VERSION,
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: resources.map((r) => ({
          type: r.type,
          interaction: [{ code: 'read' }, { code: 'search-type' }],
          searchParam: Object.entries(r.searchParams).map(([name, type]) => ({ name, type })),
        })),
      },
    ],
  };
}
