/**
 * FHIR R4 under /fhir: Observation (read; search by patient or subject, optionally date on
 * the collection time with eq/ge/gt/le/lt) and DiagnosticReport (one per patient and order:
 * read by id = patient + order, see report-id.ts; search by patient or subject and by
 * identifier = order number), as searchset Bundles paged by `_count` and `next`/`previous` links
 * (fhir-paging.ts); errors as OperationOutcome.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { FhirError, ficusCapabilityStatement, fhirBase, isCalendarDate, isTimeOfDay, OBSERVATION_SEARCH, onlyParameters, operationOutcome, registerFhirScope, repeated, REPORT_SEARCH, requestedPage, searchsetBundle, sendFhir, single } from '@ficus/service-kit';
import { queryResults, toDiagnosticReport, toObservation, type ResultNaming } from './observation-resource.js';
import { readReport } from './report-read.js';
import { OBSERVATION_ORDER, REPORT_ORDER, searchObservations, searchReports } from './result-search.js';

export interface FhirOptions extends ResultNaming {
  baseUrl: string | undefined;
}

/** accepted beside the search parameters: where a `next` or `previous` link leads (opaque) */
const CURSOR = '_cursor';

/** `Patient/123`, `123` or an absolute URL ending in Patient/123: the MRN; undefined if neither is given */
function patientOf(request: FastifyRequest): string | undefined {
  const name = single(request, 'patient') !== undefined ? 'patient' : 'subject';
  const value = single(request, name);
  if (value === undefined) return undefined;
  const m = /^(?:(?:.*\/)?Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value);
  if (!m) throw new FhirError(400, 'invalid', `${name} must be a Patient reference (Patient/<id>)`, name);
  return m[1]!;
}

const PREFIXES: Record<string, string> = { eq: '=', ge: '>=', gt: '>', le: '<=', lt: '<' };

/** FHIR date search on the collection time: each `date` (prefix + day or dateTime) ANDed, so two make a range */
function dateFilters(request: FastifyRequest, values: unknown[]): string[] {
  return repeated(request, 'date').map((raw) => {
    // an unencoded `+` of a zone arrives as a space
    const m = /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})(T[0-9:]+(?:Z|[+ -]\d{2}:\d{2})?)?$/.exec(raw);
    const time = m?.[3]?.replace(' ', '+');
    if (!m || !isCalendarDate(m[2]!) || (time !== undefined && !isTimeOfDay(time))) {
      throw new FhirError(400, 'invalid', 'date must be [eq|ge|gt|le|lt]YYYY-MM-DD[Thh:mm[:ss][zone]], a calendar date and time', 'date');
    }
    const prefix = m[1] ?? 'eq';
    values.push(`${m[2]}${time ?? ''}`);
    const p = `$${values.length}`;
    if (time === undefined) {
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
    fhir.get('/metadata', async (_request, reply) => sendFhir(reply, ficusCapabilityStatement('results-service', o.baseUrl)));

    fhir.get<{ Params: { id: string } }>('/Observation/:id', async (request, reply) => {
      const { id } = request.params;
      const rows = /^[0-9]{1,18}$/.test(id) ? await queryResults(pool, 'r.id = $1::bigint', [id]) : [];
      if (!rows[0]) throw new FhirError(404, 'not-found', `Observation/${id} is not known`);
      return sendFhir(reply, toObservation(rows[0], o));
    });

    fhir.get('/Observation', async (request, reply) => {
      onlyParameters(request, [...Object.keys(OBSERVATION_SEARCH), CURSOR]);
      const mrn = patientOf(request);
      if (mrn === undefined) throw new FhirError(400, 'too-costly', 'search by patient (or subject)', 'patient');
      const page = requestedPage(request, OBSERVATION_ORDER);
      const values: unknown[] = [mrn];
      const filters = ['r.mrn = $1', ...dateFilters(request, values)];
      const { found, total } = await searchObservations(pool, { where: filters.join(' AND '), values }, page);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams([['patient', mrn], ...repeated(request, 'date').map((d): [string, string] => ['date', d])]);
      const entries = { ...found, items: found.items.map((r) => ({ fullUrl: `${base}/Observation/${r.id}`, resource: toObservation(r, o), search: { mode: 'match' as const } })) };
      return sendFhir(reply, searchsetBundle({ base, type: 'Observation', query, page, found: entries, total }));
    });

    fhir.get<{ Params: { id: string } }>('/DiagnosticReport/:id', async (request, reply) => {
      const read = await readReport(pool, request.params.id);
      const base = fhirBase(request, o.baseUrl);
      switch (read.kind) {
        case 'found':
          return sendFhir(reply, toDiagnosticReport(read.order, read.rows, o));
        case 'moved':
          // an id of the old form (the order alone) that names one patient's report: its id now
          reply.header('location', `${base}/DiagnosticReport/${read.id}`);
          return sendFhir(reply, operationOutcome('informational', `DiagnosticReport/${request.params.id} is now DiagnosticReport/${read.id}`), 302);
        case 'ambiguous': {
          const choices = read.ids.map((id) => `DiagnosticReport/${id}`).join(', ');
          const diagnostics = `order ${read.order} has reports of ${read.ids.length} patients: read one of ${choices}, or search DiagnosticReport?identifier=${read.order}&patient=…`;
          return sendFhir(reply, operationOutcome('multiple-matches', diagnostics), 300);
        }
        default:
          throw new FhirError(404, 'not-found', `DiagnosticReport/${request.params.id} is not known`);
      }
    });

    fhir.get('/DiagnosticReport', async (request, reply) => {
      onlyParameters(request, [...Object.keys(REPORT_SEARCH), CURSOR]);
      const mrn = patientOf(request);
      const identifier = single(request, 'identifier');
      if (mrn === undefined && identifier === undefined) throw new FhirError(400, 'too-costly', 'search by patient (or subject) or identifier', 'patient');
      const page = requestedPage(request, REPORT_ORDER);
      const bar = identifier?.indexOf('|') ?? -1;
      const order = identifier === undefined ? undefined : identifier.slice(bar + 1);
      // an order number of another system is none of ours
      const foreign = bar > 0 && identifier!.slice(0, bar) !== o.orderSystem;
      const values: unknown[] = [];
      const where: string[] = [];
      if (mrn !== undefined) where.push(`r.mrn = $${values.push(mrn)}`);
      if (order !== undefined) where.push(`r.order_number = $${values.push(order)}`);
      const { found, total } = foreign ? { found: { items: [] }, total: 0 } : await searchReports(pool, { where: where.join(' AND '), values }, page);
      const base = fhirBase(request, o.baseUrl);
      const reports = found.items.map((results) => toDiagnosticReport(results[0]!.order_number, results, o));
      const entries = { ...found, items: reports.map((d) => ({ fullUrl: `${base}/DiagnosticReport/${d.id}`, resource: d, search: { mode: 'match' as const } })) };
      const query = new URLSearchParams(Object.entries({ patient: mrn, identifier }).filter((e): e is [string, string] => e[1] !== undefined));
      return sendFhir(reply, searchsetBundle({ base, type: 'DiagnosticReport', query, page, found: entries, total }));
    });
  });
}
