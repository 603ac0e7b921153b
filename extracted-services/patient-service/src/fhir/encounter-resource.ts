/**
 * patient-service's encounters as FHIR R4 Encounter resources: status from admission and
 * discharge, class, period, the attending doctor, the ward and bed as locations with the
 * transfer history (which the legacy API does not show), and the discharge disposition.
 */
import type pg from 'pg';
import { fhirDateTimeElement, pageOfRows, pageSql, sqlFhirDateTime, sqlFhirDateTimeKept, totalBesidesEmptyPage, type Page, type PageOf, type SortKey } from '@ficus/service-kit';

export interface EncounterNaming {
  /** the FHIR identifier system of visit numbers (PV1-19) */
  visitSystem: string;
  /** the identifier system of ward codes */
  wardSystem: string;
}

interface EncounterFhirRow {
  id: string;
  mrn: string;
  encounter_class: string;
  ward_code: string;
  ward_description: string;
  bed: string | null;
  attending_doctor_id: string | null;
  /** FHIR dateTimes, or PostgreSQL's text of a value FHIR cannot hold (`infinity`, a year BC or after 9999) */
  admitted_at: string;
  /** null: not discharged; `infinity` (as the legacy may hold it): discharged, the time not kept */
  discharged_at: string | null;
  discharge_disposition: string | null;
  visit_number: string | null;
  last_updated: string;
  transfers: { from_ward: string | null; from_desc: string | null; from_bed: string | null; at: string }[];
}

const CLASS: Record<string, { code: string; display: string }> = {
  E: { code: 'EMER', display: 'emergency' },
  I: { code: 'IMP', display: 'inpatient encounter' },
  O: { code: 'AMB', display: 'ambulatory' },
  D: { code: 'SS', display: 'short stay' },
};

/** UB-04 patient discharge status (the legacy's codes) and the nearest HL7 discharge disposition */
const DISPOSITION: Record<string, { display: string; hl7?: { code: string; display: string } }> = {
  '01': { display: 'Discharged to home or self care', hl7: { code: 'home', display: 'Home' } },
  '02': { display: 'Discharged/transferred to a short-term general hospital for inpatient care', hl7: { code: 'other-hcf', display: 'Other healthcare facility' } },
  '03': { display: 'Discharged/transferred to skilled nursing facility', hl7: { code: 'snf', display: 'Skilled nursing facility' } },
  '06': { display: 'Discharged/transferred to home under care of organized home health service organization', hl7: { code: 'home', display: 'Home' } },
  '07': { display: 'Left against medical advice or discontinued care', hl7: { code: 'aadvice', display: 'Left against advice' } },
  '20': { display: 'Expired', hl7: { code: 'exp', display: 'Expired' } },
};

const COLUMNS = `e.id, e.mrn, e.encounter_class, e.ward_code, COALESCE(w.description, e.ward_code) AS ward_description, e.bed, e.attending_doctor_id,
         ${sqlFhirDateTimeKept('e.admitted_at')} AS admitted_at, ${sqlFhirDateTimeKept('e.discharged_at')} AS discharged_at, e.discharge_disposition,
         e.visit_number, ${sqlFhirDateTime('e.updated_at')} AS last_updated,
         COALESCE((SELECT json_agg(json_build_object('from_ward', t.from_ward_code, 'from_desc', fw.description, 'from_bed', t.from_bed,
                                                     'at', ${sqlFhirDateTimeKept('t.transferred_at')}) ORDER BY t.transferred_at, t.id)
                     FROM encounter_transfer t LEFT JOIN ward fw ON fw.code = t.from_ward_code WHERE t.encounter_id = e.id), '[]') AS transfers`;
const FROM = 'encounter e LEFT JOIN ward w ON w.code = e.ward_code';
const SELECT = `SELECT ${COLUMNS} FROM ${FROM}`;

function place(naming: EncounterNaming, ward: string, description: string, bed: string | null) {
  const wardRef = {
    location: { identifier: { system: naming.wardSystem, value: ward }, display: description },
    physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'wa', display: 'Ward' }] },
  };
  if (!bed) return [wardRef];
  return [
    wardRef,
    {
      location: { display: `${description}, bed ${bed}` },
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd', display: 'Bed' }] },
    },
  ];
}

/**
 * A period's start and end; a time FHIR cannot hold is left out with its data-absent-reason
 * (`_end` `unknown` for a discharge at `infinity`: the stay is finished, when is not kept, where
 * a period without an end would say it goes on).
 */
function period(start: string | null, end: string | null) {
  return { ...fhirDateTimeElement('start', start), ...fhirDateTimeElement('end', end) };
}

export function toFhirEncounter(r: EncounterFhirRow, naming: EncounterNaming) {
  const finished = r.discharged_at !== null;
  // the way to the current location: each transfer ends where the previous place was
  const locations: object[] = [];
  let start = r.admitted_at;
  for (const t of r.transfers) {
    if (t.from_ward) {
      for (const l of place(naming, t.from_ward, t.from_desc ?? t.from_ward, t.from_bed)) locations.push({ ...l, status: 'completed', period: period(start, t.at) });
    }
    start = t.at;
  }
  for (const l of place(naming, r.ward_code, r.ward_description, r.bed)) {
    locations.push({ ...l, status: finished ? 'completed' : 'active', period: period(start, r.discharged_at) });
  }
  const cls = CLASS[r.encounter_class] ?? { code: 'IMP', display: 'inpatient encounter' };
  const disposition = r.discharge_disposition ? r.discharge_disposition.trim() : null;
  const known = disposition ? DISPOSITION[disposition] : undefined;
  return {
    resourceType: 'Encounter',
    id: r.id,
    meta: { lastUpdated: r.last_updated },
    ...(r.visit_number ? { identifier: [{ use: 'official', system: naming.visitSystem, value: r.visit_number }] } : {}),
    status: finished ? 'finished' : 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', ...cls },
    subject: { reference: `Patient/${r.mrn}` },
    ...(r.attending_doctor_id
      ? {
          participant: [
            {
              type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ATND', display: 'attender' }] }],
              individual: { identifier: { value: r.attending_doctor_id } },
            },
          ],
        }
      : {}),
    period: period(r.admitted_at, r.discharged_at),
    ...(disposition
      ? {
          hospitalization: {
            dischargeDisposition: {
              coding: [
                { system: 'https://www.nubc.org/CodeSystem/PatDischargeStatus', code: disposition, ...(known ? { display: known.display } : {}) },
                ...(known?.hl7 ? [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', ...known.hl7 }] : []),
              ],
            },
          },
        }
      : {}),
    location: locations,
  };
}

export type FhirEncounter = ReturnType<typeof toFhirEncounter>;

export async function readFhirEncounter(pool: pg.Pool, id: string, naming: EncounterNaming): Promise<FhirEncounter | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  const { rows } = await pool.query<EncounterFhirRow>(`${SELECT} WHERE e.id = $1::bigint`, [id]);
  return rows[0] && toFhirEncounter(rows[0], naming);
}

/** a patient's stays newest first (index encounter_patient_ix) */
export const ENCOUNTER_ORDER: SortKey = { columns: [{ sql: 'e.admitted_at', type: 'timestamp' }, { sql: 'e.id', type: 'bigint' }], descending: true };

/** One page of a search (a patient's stays, or the stay of a visit number), with its total from the same statement. */
export async function searchFhirEncounters(
  pool: pg.Pool,
  q: { mrn?: string; visitNumber?: string },
  page: Page,
  naming: EncounterNaming,
): Promise<{ total: number; found: PageOf<FhirEncounter> }> {
  const where: string[] = [];
  const values: unknown[] = [];
  if (q.mrn !== undefined) where.push(`e.mrn = $${values.push(q.mrn)}`);
  if (q.visitNumber !== undefined) where.push(`e.visit_number = $${values.push(q.visitNumber)}`);
  const filter = where.length > 0 ? where.join(' AND ') : 'TRUE';
  const filterValues = [...values];
  const sql = pageSql(ENCOUNTER_ORDER, page, (v) => `$${values.push(v)}`);
  const countSql = `SELECT count(*)::int AS total FROM encounter e WHERE ${filter}`;
  const { rows } = await pool.query<EncounterFhirRow & { page_key: string[]; total: number }>(
    `SELECT ${COLUMNS}, ARRAY[e.admitted_at::text, e.id::text] AS page_key, (${countSql}) AS total
       FROM ${FROM} WHERE ${filter}${sql.where ? ` AND ${sql.where}` : ''} ORDER BY ${sql.orderBy} ${sql.limit}`,
    values,
  );
  const total = rows[0]?.total ?? (await totalBesidesEmptyPage(page, async () => (await pool.query<{ total: number }>(countSql, filterValues)).rows[0]!.total));
  const found = pageOfRows(rows, (r) => r.page_key, page);
  return { total, found: { ...found, items: found.items.map((r) => toFhirEncounter(r, naming)) } };
}
