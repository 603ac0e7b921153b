/**
 * A patient's encounters as the legacy's /api/encounters shows them (admissionId, ward with
 * its description, bed, doctor, admit and discharge), newest first.
 */
import type pg from 'pg';
import { sqlTimestamp } from '@ficus/service-kit';

export interface ApiEncounter {
  admissionId: number;
  mrn: string;
  admitDate: string;
  dischargeDate: string | null;
  status: 'ADMITTED' | 'DISCHARGED';
  admissionType: 'E' | 'I' | 'O' | 'D';
  ward: { code: string; description: string };
  bed: string | null;
  attendingDoctorId: string | null;
  dischargeDisposition: string | null;
  lastUpdated: string;
}

interface EncounterDbRow {
  id: string;
  mrn: string;
  admitted_at: string;
  discharged_at: string | null;
  encounter_class: ApiEncounter['admissionType'];
  ward_code: string;
  ward_description: string;
  bed: string | null;
  attending_doctor_id: string | null;
  discharge_disposition: string | null;
  updated_at: string;
}

export async function encountersOf(pool: pg.Pool, mrn: string): Promise<ApiEncounter[]> {
  const { rows } = await pool.query<EncounterDbRow>(
    `SELECT e.id, e.mrn, ${sqlTimestamp('e.admitted_at')} AS admitted_at, ${sqlTimestamp('e.discharged_at')} AS discharged_at, e.encounter_class,
            e.ward_code, COALESCE(w.description, e.ward_code) AS ward_description, e.bed, e.attending_doctor_id, e.discharge_disposition,
            ${sqlTimestamp('e.updated_at')} AS updated_at
       FROM encounter e LEFT JOIN ward w ON w.code = e.ward_code
      WHERE e.mrn = $1
      ORDER BY e.admitted_at DESC, e.id DESC`,
    [mrn],
  );
  return rows.map((r) => ({
    admissionId: Number(r.id),
    mrn: r.mrn,
    admitDate: r.admitted_at,
    dischargeDate: r.discharged_at,
    status: r.discharged_at === null ? 'ADMITTED' : 'DISCHARGED',
    admissionType: r.encounter_class,
    ward: { code: r.ward_code, description: r.ward_description },
    bed: r.bed,
    attendingDoctorId: r.attending_doctor_id,
    dischargeDisposition: r.discharge_disposition === null ? null : r.discharge_disposition.trim(),
    lastUpdated: r.updated_at,
  }));
}
