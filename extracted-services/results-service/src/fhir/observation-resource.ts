/**
 * Laboratory results as FHIR R4: each result an Observation (valueQuantity with UCUM units for
 * a number, valueString otherwise; reference range; interpretation from the abnormal flag;
 * status final, preliminary or corrected), each order a DiagnosticReport whose `result`
 * references its Observations. Patients and stays are patient-service's: they are referenced by
 * absolute URL at its FHIR base, as a relative `Patient/…` would name nothing at this service.
 */
import type pg from 'pg';
import { readableText } from '@ficus/hl7-protocol';
import { compareKeptTimes, FhirDecimal, fhirDateTimeElement, fhirText, sqlFhirDateTime, sqlFhirDateTimeKept } from '@ficus/service-kit';
import { reportId } from './report-id.js';

export interface ResultNaming {
  /** identifier system of order numbers */
  orderSystem: string;
  /** code system of test codes that are not LOINC */
  localTestSystem: string;
  /** patient-service's FHIR base as clients reach it: Patient and Encounter references start with it */
  patientBase: string;
}

export interface ResultFhirRow {
  id: string;
  mrn: string;
  encounter_id: string | null;
  order_number: string;
  test_code: string;
  test_name: string;
  value: string | null;
  units: string | null;
  reference_range: string | null;
  abnormal_flag: string | null;
  status: string;
  /** FHIR dateTimes, or PostgreSQL's text of a time FHIR cannot hold (a year BC or after 9999, `infinity`), left out with its reason */
  collected_at: string;
  resulted_at: string | null;
  last_updated: string;
  /** the laboratory's NTE comments (results-service's own: the legacy keeps none) */
  comments: string[] | null;
}

export const RESULT_FHIR_COLUMNS = `r.id, r.mrn, r.encounter_id, r.order_number, r.test_code, r.test_name, r.value, r.units, r.reference_range, r.abnormal_flag, r.status, r.comments,
  ${sqlFhirDateTimeKept('r.collected_at')} AS collected_at, ${sqlFhirDateTimeKept('r.resulted_at')} AS resulted_at, ${sqlFhirDateTime('r.updated_at')} AS last_updated`;

const STATUS: Record<string, string> = { F: 'final', P: 'preliminary', C: 'corrected' };
const INTERPRETATION: Record<string, string> = { H: 'High', L: 'Low', HH: 'Critical high', LL: 'Critical low', A: 'Abnormal', N: 'Normal' };
const LOINC = /^\d{1,7}-\d$/;
/** a number as printed, with an optional comparator: 5.4, -1, <0.04, >=100 */
const NUMBER = /^(<=|>=|<|>)?\s*(-?\d+(?:\.\d+)?)$/;
/** units written as UCUM codes (mmol/L, 10*3/uL, %, mg/dL); anything with spaces or ^ is not */
const UCUM = /^[A-Za-z0-9%*/.[\]{}'-]+$/;

function quantity(value: FhirDecimal, units: string | null, comparator?: string) {
  return {
    value,
    ...(comparator ? { comparator } : {}),
    ...(units ? { unit: units, ...(UCUM.test(units) ? { system: 'http://unitsofmeasure.org', code: units } : {}) } : {}),
  };
}

// the number patterns of this module match digits only: every match is a decimal
const decimal = (printed: string) => FhirDecimal.parse(printed)!;

function referenceRange(text: string, units: string | null) {
  const range = /^(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)$/.exec(text);
  if (range) return { low: quantity(decimal(range[1]!), units), high: quantity(decimal(range[2]!), units), text };
  const upper = /^<=?\s*(-?\d+(?:\.\d+)?)$/.exec(text);
  if (upper) return { high: quantity(decimal(upper[1]!), units), text };
  const lower = /^>=?\s*(-?\d+(?:\.\d+)?)$/.exec(text);
  if (lower) return { low: quantity(decimal(lower[1]!), units), text };
  return { text };
}

export function toObservation(r: ResultFhirRow, naming: ResultNaming) {
  const text = fhirText(r.value);
  const number = text === undefined ? null : NUMBER.exec(text);
  // the value is stored as the legacy holds it (FT's `\.br\` as written): a reader gets line breaks
  const value = text === undefined ? {} : number ? { valueQuantity: quantity(decimal(number[2]!), r.units, number[1]) } : { valueString: readableText(text) };
  const interpretation = r.abnormal_flag ? INTERPRETATION[r.abnormal_flag] : undefined;
  return {
    resourceType: 'Observation',
    id: r.id,
    meta: { lastUpdated: r.last_updated },
    identifier: [{ system: naming.orderSystem, value: `${r.order_number}/${r.test_code}` }],
    status: STATUS[r.status] ?? 'unknown',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }],
    code: { coding: [{ system: LOINC.test(r.test_code) ? 'http://loinc.org' : naming.localTestSystem, code: r.test_code, display: r.test_name }], text: r.test_name },
    subject: { reference: `${naming.patientBase}/Patient/${r.mrn}` },
    ...(r.encounter_id ? { encounter: { reference: `${naming.patientBase}/Encounter/${r.encounter_id}` } } : {}),
    ...fhirDateTimeElement('effectiveDateTime', r.collected_at),
    ...fhirDateTimeElement('issued', r.resulted_at),
    ...value,
    ...(interpretation
      ? { interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: r.abnormal_flag!, display: interpretation }] }] }
      : {}),
    ...(r.reference_range ? { referenceRange: [referenceRange(r.reference_range, r.units)] } : {}),
    ...(r.comments?.length ? { note: r.comments.map((text) => ({ text })) } : {}),
  };
}

/*
 * The earliest and latest of FHIR dateTimes and of times FHIR cannot hold (a year BC or after
 * 9999, `±infinity`), by the instant each names: such a one is the answer, and left out with its
 * reason, when it is the earliest or latest. The answer is written as it was given.
 */
function earliest(times: string[]): string | undefined {
  return [...times].sort(compareKeptTimes)[0];
}
function latest(times: string[]): string | undefined {
  return [...times].sort(compareKeptTimes).pop();
}

/** One patient's results of one order (oldest first) as a DiagnosticReport. */
export function toDiagnosticReport(orderNumber: string, results: ResultFhirRow[], naming: ResultNaming) {
  if (new Set(results.map((r) => r.mrn)).size !== 1) throw new Error('a DiagnosticReport holds the results of one patient');
  const first = results[0]!;
  const status = results.some((r) => r.status === 'P') ? 'preliminary' : results.some((r) => r.status === 'C') ? 'corrected' : 'final';
  const collected = earliest(results.map((r) => r.collected_at))!;
  const issued = latest(results.map((r) => r.resulted_at).filter((t): t is string => t !== null));
  const updated = latest(results.map((r) => r.last_updated))!;
  const encounter = results.find((r) => r.encounter_id !== null)?.encounter_id;
  return {
    resourceType: 'DiagnosticReport',
    id: reportId(first.mrn, orderNumber),
    meta: { lastUpdated: updated },
    identifier: [{ system: naming.orderSystem, value: orderNumber }],
    status,
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Laboratory report' }], text: 'Laboratory report' },
    subject: { reference: `${naming.patientBase}/Patient/${first.mrn}` },
    ...(encounter ? { encounter: { reference: `${naming.patientBase}/Encounter/${encounter}` } } : {}),
    ...fhirDateTimeElement('effectiveDateTime', collected),
    ...fhirDateTimeElement('issued', issued ?? null),
    result: results.map((r) => ({ reference: `Observation/${r.id}`, display: r.test_name })),
  };
}

/** The results of a read (one Observation, one report's): newest first. Searches page (result-search.ts). */
export async function queryResults(pool: pg.Pool, where: string, values: unknown[]): Promise<ResultFhirRow[]> {
  const { rows } = await pool.query<ResultFhirRow>(`SELECT ${RESULT_FHIR_COLUMNS} FROM lab_result r WHERE ${where} ORDER BY r.collected_at DESC, r.id DESC`, values);
  return rows;
}
