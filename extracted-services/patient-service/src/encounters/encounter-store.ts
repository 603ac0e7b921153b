/**
 * A patient's encounters as the legacy contract shows them, newest first.
 */
import type pg from 'pg';
import { encounterJson, sqlTimestamp, type EncounterRecord, type LegacyEncounter } from '@ficus/legacy-his/contract';

export async function encountersOf(pool: pg.Pool, mrn: string): Promise<LegacyEncounter[]> {
  const { rows } = await pool.query<EncounterRecord>(
    `SELECT e.id AS "admissionId", e.mrn, ${sqlTimestamp('e.admitted_at')} AS "admitDate", ${sqlTimestamp('e.discharged_at')} AS "dischargeDate",
            e.encounter_class AS "admissionType", e.ward_code AS "wardCode", COALESCE(w.description, e.ward_code) AS "wardDescription", e.bed,
            e.attending_doctor_id AS "attendingDoctorId", e.discharge_disposition AS "dischargeDisposition", ${sqlTimestamp('e.updated_at')} AS "lastUpdated"
       FROM encounter e LEFT JOIN ward w ON w.code = e.ward_code
      WHERE e.mrn = $1
      ORDER BY e.admitted_at DESC, e.id DESC`,
    [mrn],
  );
  return rows.map(encounterJson);
}
