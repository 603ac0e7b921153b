/**
 * ADMISSION rows (with the ward's description from the WARD code table) as the API shows them.
 */
import type pg from 'pg';
import { sqlTimestamp } from '../http/legacy-format.js';

export interface LegacyEncounter {
  admissionId: number;
  mrn: string;
  admitDate: string;
  dischargeDate: string | null;
  /** derived: ADMITTED while DSCH_DT is null */
  status: 'ADMITTED' | 'DISCHARGED';
  admissionType: 'E' | 'I' | 'O' | 'D';
  ward: { code: string; description: string };
  bed: string | null;
  attendingDoctorId: string | null;
  dischargeDisposition: string | null;
  lastUpdated: string;
}

interface EncounterDbRow {
  adm_id: number;
  pat_mrn: string;
  adm_dt: string;
  dsch_dt: string | null;
  adm_type_cd: LegacyEncounter['admissionType'];
  ward_cd: string;
  ward_desc: string;
  bed_no: string | null;
  attend_dr_id: string | null;
  dsch_disp_cd: string | null;
  last_upd_dt: string;
}

export async function encountersOf(pool: pg.Pool, mrn: string): Promise<LegacyEncounter[]> {
  const { rows } = await pool.query<EncounterDbRow>(
    `SELECT A.ADM_ID, A.PAT_MRN, ${sqlTimestamp('A.ADM_DT')} AS ADM_DT, ${sqlTimestamp('A.DSCH_DT')} AS DSCH_DT, A.ADM_TYPE_CD,
            A.WARD_CD, W.WARD_DESC, A.BED_NO, A.ATTEND_DR_ID, A.DSCH_DISP_CD, ${sqlTimestamp('A.LAST_UPD_DT')} AS LAST_UPD_DT
       FROM ADMISSION A JOIN WARD W ON W.WARD_CD = A.WARD_CD
      WHERE A.PAT_MRN = $1
      ORDER BY A.ADM_DT DESC, A.ADM_ID DESC`,
    [mrn],
  );
  return rows.map((r) => ({
    admissionId: r.adm_id,
    mrn: r.pat_mrn,
    admitDate: r.adm_dt,
    dischargeDate: r.dsch_dt,
    status: r.dsch_dt === null ? 'ADMITTED' : 'DISCHARGED',
    admissionType: r.adm_type_cd,
    ward: { code: r.ward_cd, description: r.ward_desc },
    bed: r.bed_no,
    attendingDoctorId: r.attend_dr_id,
    dischargeDisposition: r.dsch_disp_cd === null ? null : r.dsch_disp_cd.trim(),
    lastUpdated: r.last_upd_dt,
  }));
}
