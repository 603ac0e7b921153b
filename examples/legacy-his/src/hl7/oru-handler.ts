/**
 * ORU^R01: laboratory results to LAB_RESULT, one row per observation (OBX) of each order (OBR)
 * as @ficus/hl7-protocol reads them, for the patient of the PID before it and the stay of its
 * PV1-19 (when the legacy knows it).
 */
import { patientMrn, readObservation, readOrder, readResultMessage, unknownPatient, type LabResultValues } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { localTimestamp } from '../contract/index.js';
import type { MessageContext } from './message-context.js';
import { lockPatient, survivorOf } from './patient-records.js';

export async function storeResults({ tx, message }: MessageContext): Promise<void> {
  const { patients, messageTime } = readResultMessage(message);
  for (const group of patients) {
    const mrn = await survivorOf(tx, patientMrn(message, group.pid));
    if (!(await lockPatient(tx, mrn))) throw unknownPatient(group.pid);
    const admId = group.visitNo === undefined ? null : await admissionOf(tx, mrn, group.visitNo);
    for (const orderGroup of group.orders) {
      const order = readOrder(message, orderGroup, messageTime);
      for (const obx of orderGroup.observations) {
        const observation = readObservation(message, obx, order);
        if (observation.kind === 'skip') continue;
        const same = [mrn, order.orderNo, observation.testCode];
        if (observation.kind === 'withdraw') await tx.query('DELETE FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3', same);
        else await storeResult(tx, same, admId, observation.result);
      }
    }
  }
}

/** The stay of the visit number when the legacy knows it as this patient's; null (a clinic draw) otherwise */
async function admissionOf(tx: pg.PoolClient, mrn: string, visitNo: string): Promise<number | null> {
  const { rows } = await tx.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1 AND PAT_MRN = $2', [visitNo, mrn]);
  return rows[0]?.adm_id ?? null;
}

/**
 * A correction replaces the row of the same order and test, whatever its status; a final or
 * a preliminary result replaces a preliminary one (the laboratory's result moving on); else
 * a new row.
 */
async function storeResult(tx: pg.PoolClient, same: string[], admId: number | null, r: LabResultValues): Promise<void> {
  const row = [admId, r.testName, r.value, r.units, r.referenceRange, r.abnormalFlag, r.status, r.collected, r.resulted];
  const columns = `ADM_ID = $4, TEST_NM = $5, RESULT_VAL = $6, UNITS = $7, REF_RANGE = $8, ABN_FLAG = $9, RESULT_STAT_CD = $10,
                   COLLECT_DT = ${localTimestamp('$11')}, RESULT_DT = ${localTimestamp('$12')}`;
  const replaceable = r.status === 'C' ? 'TRUE' : `RESULT_STAT_CD = 'P'`;
  const replaced = await tx.query(
    `UPDATE LAB_RESULT SET ${columns}
      WHERE RESULT_ID = (SELECT RESULT_ID FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3 AND ${replaceable}
                          ORDER BY RESULT_ID DESC LIMIT 1)`,
    [...same, ...row],
  );
  if ((replaced.rowCount ?? 0) > 0) return;
  await tx.query(
    `INSERT INTO LAB_RESULT (PAT_MRN, ORDER_NO, TEST_CD, ADM_ID, TEST_NM, RESULT_VAL, UNITS, REF_RANGE, ABN_FLAG, RESULT_STAT_CD, COLLECT_DT, RESULT_DT)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ${localTimestamp('$11')}, ${localTimestamp('$12')})`,
    [...same, ...row],
  );
}
