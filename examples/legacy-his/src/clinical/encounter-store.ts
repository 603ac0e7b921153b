/**
 * ADMISSION rows (with the ward's description from the WARD code table) as the contract shows them.
 */
import type pg from 'pg';
import { encounterJson, sqlTimestamp, type EncounterRecord, type LegacyEncounter } from '../contract/index.js';

export async function encountersOf(pool: pg.Pool, mrn: string): Promise<LegacyEncounter[]> {
  const { rows } = await pool.query<EncounterRecord>(
    `SELECT A.ADM_ID AS "admissionId", A.PAT_MRN AS mrn, ${sqlTimestamp('A.ADM_DT')} AS "admitDate", ${sqlTimestamp('A.DSCH_DT')} AS "dischargeDate",
            A.ADM_TYPE_CD AS "admissionType", A.WARD_CD AS "wardCode", W.WARD_DESC AS "wardDescription", A.BED_NO AS bed,
            A.ATTEND_DR_ID AS "attendingDoctorId", A.DSCH_DISP_CD AS "dischargeDisposition", ${sqlTimestamp('A.LAST_UPD_DT')} AS "lastUpdated"
       FROM ADMISSION A JOIN WARD W ON W.WARD_CD = A.WARD_CD
      WHERE A.PAT_MRN = $1
      ORDER BY A.ADM_DT DESC, A.ADM_ID DESC`,
    [mrn],
  );
  return rows.map(encounterJson);
}
