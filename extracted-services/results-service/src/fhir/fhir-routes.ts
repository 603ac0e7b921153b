/**
 * FHIR R4 under /fhir: Observation (read; search by patient or subject, optionally date on
 * the collection time with eq/ge/gt/le/lt) and DiagnosticReport (read by id = order; search by
 * patient or subject), as searchset Bundles; errors as OperationOutcome.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { capabilityStatement, FhirError, fhirBase, registerFhirScope, repeated, searchset, sendFhir, single } from '@ficus/service-kit';
import { orderOf, queryResults, reportId, toDiagnosticReport, toObservation, type ResultFhirRow, type ResultNaming } from './observation-resource.js';

export interface FhirOptions extends ResultNaming {
  baseUrl: string | undefined;
}

/** `Patient/123`, `123` or an absolute URL ending in Patient/123: the MRN */
function patientOf(request: FastifyRequest): string {
  const name = single(request, 'patient') !== undefined ? 'patient' : 'subject';
  const value = single(request, name);
  if (value === undefined) throw new FhirError(400, 'too-costly', 'search by patient (or subject)', 'patient');
  const m = /^(?:(?:.*\/)?Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value);
  if (!m) throw new FhirError(400, 'invalid', `${name} must be a Patient reference (Patient/<id>)`, name);
  return m[1]!;
}

const PREFIXES: Record<string, string> = { eq: '=', ge: '>=', gt: '>', le: '<=', lt: '<' };

/** FHIR date search on the collection time: each `date` (prefix + day or dateTime) ANDed */
function dateFilters(request: FastifyRequest, values: unknown[]): string[] {
  return repeated(request, 'date').map((raw) => {
    const m = /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?)?$/.exec(raw);
    if (!m || Number.isNaN(Date.parse(m[2]!))) throw new FhirError(400, 'invalid', 'date must be [eq|ge|gt|le|lt]YYYY-MM-DD[Thh:mm[:ss][zone]]', 'date');
    const prefix = m[1] ?? 'eq';
    values.push(`${m[2]}${m[3] ?? ''}`);
    const p = `$${values.length}`;
    if (m[3] === undefined) {
      // a day is the whole day: eq within it, ge from its start, gt after its end…
      const day = `${p}::date`;
      switch (prefix) {
        case 'eq':
          return `(r.collected_at >= ${day} AND r.collected_at < ${day} + 1)`;
        case 'ge':
          return `r.collected_at >= ${day}`;
        case 'gt':
          return `r.collected_at >= ${day} + 1`;
        case 'le':
          return `r.collected_at < ${day} + 1`;
        default:
          return `r.collected_at < ${day}`;
      }
    }
    const at = `(CASE WHEN ${p} ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN ${p}::timestamptz::timestamp ELSE ${p}::timestamp END)`;
    return `r.collected_at ${PREFIXES[prefix]} ${at}`;
  });
}

export async function registerResultFhir(app: FastifyInstance, pool: pg.Pool, o: FhirOptions): Promise<void> {
  await registerFhirScope(app, (fhir) => {
    fhir.get('/metadata', async (_request, reply) =>
      sendFhir(reply, capabilityStatement('Ficus results-service', [
        { type: 'Observation', searchParams: ['patient', 'subject', 'date'] },
        { type: 'DiagnosticReport', searchParams: ['patient', 'subject'] },
      ])),
    );

    fhir.get<{ Params: { id: string } }>('/Observation/:id', async (request, reply) => {
      const { id } = request.params;
      const rows = /^[0-9]{1,18}$/.test(id) ? await queryResults(pool, 'r.id = $1::bigint', [id]) : [];
      if (!rows[0]) throw new FhirError(404, 'not-found', `Observation/${id} is not known`);
      return sendFhir(reply, toObservation(rows[0], o));
    });

    fhir.get('/Observation', async (request, reply) => {
      const mrn = patientOf(request);
      const values: unknown[] = [mrn];
      const filters = ['r.mrn = $1', ...dateFilters(request, values)];
      const rows = await queryResults(pool, filters.join(' AND '), values);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams([['patient', mrn], ...repeated(request, 'date').map((d): [string, string] => ['date', d])]);
      const entries = rows.map((r) => ({ fullUrl: `${base}/Observation/${r.id}`, resource: toObservation(r, o), search: { mode: 'match' as const } }));
      return sendFhir(reply, searchset(base, 'Observation', query, entries, entries.length));
    });

    fhir.get<{ Params: { id: string } }>('/DiagnosticReport/:id', async (request, reply) => {
      const order = orderOf(request.params.id);
      const rows = order === undefined ? [] : await queryResults(pool, 'r.order_number = $1', [order]);
      if (rows.length === 0) throw new FhirError(404, 'not-found', `DiagnosticReport/${request.params.id} is not known`);
      return sendFhir(reply, toDiagnosticReport(order!, rows.reverse(), o));
    });

    fhir.get('/DiagnosticReport', async (request, reply) => {
      const mrn = patientOf(request);
      const rows = await queryResults(pool, 'r.mrn = $1', [mrn]);
      const orders = new Map<string, ResultFhirRow[]>();
      for (const r of rows.reverse()) orders.set(r.order_number, [...(orders.get(r.order_number) ?? []), r]);
      const base = fhirBase(request, o.baseUrl);
      const reports = [...orders.entries()].reverse().map(([order, results]) => toDiagnosticReport(order, results, o));
      const entries = reports.map((d) => ({ fullUrl: `${base}/DiagnosticReport/${reportId(d.identifier[0]!.value)}`, resource: d, search: { mode: 'match' as const } }));
      return sendFhir(reply, searchset(base, 'DiagnosticReport', new URLSearchParams([['patient', mrn]]), entries, entries.length));
    });
  });
}
