/**
 * patient-service's patients as FHIR R4 Patient resources: id = MRN, the MRN and the other
 * PID-3 identifiers, name, gender, birth date, address, phone, marital status, active, and
 * for a merge the link between the merged-away record and its survivor.
 */
import type pg from 'pg';
import { sqlDate } from '@ficus/legacy-his/contract';
import { fhirDateElement, fhirText, pageOfRows, pageSql, sqlFhirDateTime, totalBesidesEmptyPage, type Page, type PageOf, type SortKey } from '@ficus/service-kit';

export interface FhirNaming {
  /** the FHIR identifier system of the hospital's MRNs */
  mrnSystem: string;
}

export interface PatientFhirRow {
  mrn: string;
  family_name: string;
  given_name: string;
  middle_name: string | null;
  /** as the legacy contract prints it: a year BC or after 9999 as `0044-03-15 BC`, `10000-01-01` */
  birth_date: string;
  sex: string;
  address_line: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
  phone: string | null;
  marital_status: string | null;
  active: boolean;
  last_updated: string;
  identifiers: { authority: string; type_code: string; value: string }[];
  replaced_by: string | null;
  replaces: string[];
}

const GENDER: Record<string, string> = { M: 'male', F: 'female', U: 'unknown' };
const V3_MARITAL = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
/** R4's marital-status value set: v3 MaritalStatus, and UNK from v3 NullFlavor (not a marital status code) */
const MARITAL: Record<string, { system: string; code: string; display: string }> = {
  S: { system: V3_MARITAL, code: 'S', display: 'Never Married' },
  M: { system: V3_MARITAL, code: 'M', display: 'Married' },
  D: { system: V3_MARITAL, code: 'D', display: 'Divorced' },
  W: { system: V3_MARITAL, code: 'W', display: 'Widowed' },
  A: { system: V3_MARITAL, code: 'L', display: 'Legally Separated' },
  U: { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' },
};

export const PATIENT_FHIR_COLUMNS = `p.mrn, p.family_name, p.given_name, p.middle_name, ${sqlDate('p.birth_date')} AS birth_date, p.sex, p.address_line, p.city, p.state,
         p.postal_code, p.phone, p.marital_status, p.active, ${sqlFhirDateTime('p.updated_at')} AS last_updated,
         COALESCE((SELECT json_agg(json_build_object('authority', i.authority, 'type_code', i.type_code, 'value', i.value) ORDER BY i.authority, i.type_code, i.value)
                     FROM patient_identifier i WHERE i.mrn = p.mrn), '[]') AS identifiers,
         (SELECT m.survivor_mrn FROM patient_merge m WHERE m.merged_mrn = p.mrn ORDER BY m.merged_at DESC, m.id DESC LIMIT 1) AS replaced_by,
         ARRAY(SELECT DISTINCT m.merged_mrn FROM patient_merge m WHERE m.survivor_mrn = p.mrn ORDER BY 1) AS replaces`;

export const PATIENT_FHIR_SELECT = `SELECT ${PATIENT_FHIR_COLUMNS} FROM patient p`;

export function toFhirPatient(r: PatientFhirRow, naming: FhirNaming) {
  const [line, city, state, postalCode] = [r.address_line, r.city, r.state, r.postal_code].map(fhirText);
  const address =
    line || city || state || postalCode
      ? [{ use: 'home', ...(line ? { line: [line] } : {}), ...(city ? { city } : {}), ...(state ? { state } : {}), ...(postalCode ? { postalCode } : {}) }]
      : undefined;
  const family = fhirText(r.family_name);
  const phone = fhirText(r.phone);
  const marital = r.marital_status ? MARITAL[r.marital_status] : undefined;
  const link = [
    ...(r.replaced_by ? [{ other: { reference: `Patient/${r.replaced_by}` }, type: 'replaced-by' }] : []),
    ...r.replaces.map((m) => ({ other: { reference: `Patient/${m}` }, type: 'replaces' })),
  ];
  return {
    resourceType: 'Patient',
    id: r.mrn,
    meta: { lastUpdated: r.last_updated },
    identifier: [
      { use: 'usual', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] }, system: naming.mrnSystem, value: r.mrn },
      ...r.identifiers.map((i) => ({
        ...(i.type_code ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: i.type_code }] } } : {}),
        value: i.value,
        ...(i.authority ? { assigner: { display: i.authority } } : {}),
      })),
    ],
    active: r.active,
    // FHIR strings may not be empty: a legacy name part left '' (or blank) is left out
    name: [{ use: 'official', ...(family ? { family } : {}), ...givenNames(r) }],
    ...(phone ? { telecom: [{ system: 'phone', value: phone, use: 'home' }] } : {}),
    gender: GENDER[r.sex] ?? 'unknown',
    // a birth date FHIR cannot hold (BC, after 9999) is left out, data-absent-reason `unsupported` on _birthDate
    ...fhirDateElement('birthDate', r.birth_date),
    ...(address ? { address } : {}),
    ...(marital ? { maritalStatus: { coding: [marital] } } : {}),
    ...(link.length > 0 ? { link } : {}),
  };
}

function givenNames(r: PatientFhirRow): { given?: string[] } {
  const given = [r.given_name, r.middle_name].map(fhirText).filter((n): n is string => n !== undefined);
  return given.length > 0 ? { given } : {};
}

export type FhirPatient = ReturnType<typeof toFhirPatient>;

export async function readFhirPatient(pool: pg.Pool, mrn: string, naming: FhirNaming): Promise<FhirPatient | undefined> {
  const { rows } = await pool.query<PatientFhirRow>(`${PATIENT_FHIR_SELECT} WHERE p.mrn = $1`, [mrn]);
  return rows[0] && toFhirPatient(rows[0], naming);
}

export interface BirthDateFilter {
  prefix: 'eq' | 'ge' | 'gt' | 'le' | 'lt';
  /** a calendar date YYYY-MM-DD */
  date: string;
}

const DATE_OPERATOR: Record<BirthDateFilter['prefix'], string> = { eq: '=', ge: '>=', gt: '>', le: '<=', lt: '<' };

export interface FhirPatientSearch {
  /** identifier token: the MRN, or another identifier's value */
  identifier?: { system: string | undefined; value: string };
  /** FHIR `name`: a prefix of any part of the name (family, given or middle) */
  name?: string;
  family?: string;
  given?: string;
  /** each ANDed: two make a range */
  birthdates: BirthDateFilter[];
}

/** the patient list's order (index patient_name_ix), as the legacy lists patients */
export const PATIENT_ORDER: SortKey = {
  columns: [
    { sql: 'p.family_name', type: 'text' },
    { sql: 'p.given_name', type: 'text' },
    { sql: 'p.mrn', type: 'text' },
  ],
  descending: false,
};

const likePrefix = (s: string) => s.toUpperCase().replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

function searchFilter(q: FhirPatientSearch, naming: FhirNaming, values: unknown[]): string {
  const where: string[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  if (q.identifier) {
    if (q.identifier.system === undefined) {
      const v = param(q.identifier.value);
      where.push(`(p.mrn = ${v} OR EXISTS (SELECT 1 FROM patient_identifier i WHERE i.mrn = p.mrn AND i.value = ${v}))`);
    } else if (q.identifier.system === naming.mrnSystem) where.push(`p.mrn = ${param(q.identifier.value)}`);
    // other identifiers carry their assigning authority, not a system: only a bare value finds them
    else where.push('FALSE');
  }
  if (q.family) where.push(`p.family_name LIKE ${param(likePrefix(q.family))}`);
  if (q.given) where.push(`(p.given_name LIKE ${param(likePrefix(q.given))} OR p.middle_name LIKE $${values.length})`);
  if (q.name) {
    const v = param(likePrefix(q.name));
    where.push(`(p.family_name LIKE ${v} OR p.given_name LIKE ${v} OR p.middle_name LIKE ${v})`);
  }
  for (const b of q.birthdates) where.push(`p.birth_date ${DATE_OPERATOR[b.prefix]} ${param(b.date)}::date`);
  return where.length > 0 ? where.join(' AND ') : 'TRUE';
}

/** One page of a search, with the total read in the same statement (one snapshot). */
export async function searchFhirPatients(pool: pg.Pool, q: FhirPatientSearch, page: Page, naming: FhirNaming): Promise<{ total: number; found: PageOf<FhirPatient> }> {
  const values: unknown[] = [];
  const filter = searchFilter(q, naming, values);
  const filterValues = [...values];
  const sql = pageSql(PATIENT_ORDER, page, (v) => `$${values.push(v)}`);
  const countSql = `SELECT count(*)::int AS total FROM patient p WHERE ${filter}`;
  const { rows } = await pool.query<PatientFhirRow & { page_key: string[]; total: number }>(
    `SELECT ${PATIENT_FHIR_COLUMNS}, ARRAY[p.family_name, p.given_name, p.mrn::text] AS page_key, (${countSql}) AS total
       FROM patient p WHERE ${filter}${sql.where ? ` AND ${sql.where}` : ''} ORDER BY ${sql.orderBy} ${sql.limit}`,
    values,
  );
  const total = rows[0]?.total ?? (await totalBesidesEmptyPage(page, async () => (await pool.query<{ total: number }>(countSql, filterValues)).rows[0]!.total));
  const found = pageOfRows(rows, (r) => r.page_key, page);
  return { total, found: { ...found, items: found.items.map((r) => toFhirPatient(r, naming)) } };
}
