/**
 * ORU^R01: laboratory results to LAB_RESULT, one row per observation (OBX) of each order (OBR)
 * as @ficus/hl7-protocol reads them, for the patient of the PID before it and the stay of its
 * PV1-19 (when the legacy knows it).
 */
import { finalized, noResultToFinalize, patientMrn, readObservation, readOrder, readResultMessage, unknownPatient, type FinalStatus, type LabResultValues } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { localTimestamp } from '../contract/index.js';
import type { MessageContext } from './message-context.js';
import { lockPatient, survivorOf } from './patient-records.js';

/** A patient's order and test, and the rows this message wrote already (its own rows are not earlier results). */
interface Target {
  same: string[];
  admId: number | null;
  written: Set<string>;
}

export async function storeResults({ tx, message }: MessageContext): Promise<void> {
  const { patients, messageTime } = readResultMessage(message);
  const written = new Set<string>();
  for (const group of patients) {
    const mrn = await survivorOf(tx, patientMrn(message, group.pid));
    if (!(await lockPatient(tx, mrn))) throw unknownPatient(group.pid);
    const admId = group.visitNo === undefined ? null : await admissionOf(tx, mrn, group.visitNo);
    for (const orderGroup of group.orders) {
      const order = readOrder(message, orderGroup, messageTime);
      for (const obx of orderGroup.observations) {
        const observation = readObservation(message, obx, order);
        if (observation.kind === 'skip') continue;
        const t: Target = { same: [mrn, order.orderNo, observation.testCode], admId, written };
        if (observation.kind === 'withdraw') await tx.query('DELETE FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3', t.same);
        else if (observation.kind === 'finalize') await finalizeResult(tx, t, observation.change, observation.asFinal, obx);
        else await storeResult(tx, t, observation.result);
      }
    }
  }
}

/** The stay of the visit number when the legacy knows it as this patient's; null (a clinic draw) otherwise */
async function admissionOf(tx: pg.PoolClient, mrn: string, visitNo: string): Promise<number | null> {
  const { rows } = await tx.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1 AND PAT_MRN = $2', [visitNo, mrn]);
  return rows[0]?.adm_id ?? null;
}

const COLUMNS = `TEST_NM = $5, RESULT_VAL = $6, UNITS = $7, REF_RANGE = $8, ABN_FLAG = $9, RESULT_STAT_CD = $10,
                 COLLECT_DT = ${localTimestamp('$11')}, RESULT_DT = ${localTimestamp('$12')}`;
const rowValues = (r: LabResultValues) => [r.testName, r.value, r.units, r.referenceRange, r.abnormalFlag, r.status, r.collected, r.resulted];

/**
 * A correction replaces the row of the same order and test, whatever its status; a final or
 * a preliminary result replaces a preliminary one (the laboratory's result moving on); else
 * a new row. Never a row this message wrote: two OBX of one test in one order (two organisms
 * of one culture) are two results, the second did not replace the first.
 */
async function storeResult(tx: pg.PoolClient, t: Target, r: LabResultValues): Promise<void> {
  const replaceable = r.status === 'C' ? 'TRUE' : `RESULT_STAT_CD = 'P'`;
  const params = [...t.same, t.admId, ...rowValues(r), [...t.written]];
  const replaced = await tx.query<{ result_id: string }>(
    `UPDATE LAB_RESULT SET ADM_ID = $4, ${COLUMNS}
      WHERE RESULT_ID = (SELECT RESULT_ID FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3 AND ${replaceable}
                            AND RESULT_ID <> ALL($13::bigint[])
                          ORDER BY RESULT_ID DESC LIMIT 1)
      RETURNING RESULT_ID::text AS result_id`,
    params,
  );
  const id =
    replaced.rows[0]?.result_id ??
    (
      await tx.query<{ result_id: string }>(
        `INSERT INTO LAB_RESULT (PAT_MRN, ORDER_NO, TEST_CD, ADM_ID, TEST_NM, RESULT_VAL, UNITS, REF_RANGE, ABN_FLAG, RESULT_STAT_CD, COLLECT_DT, RESULT_DT)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ${localTimestamp('$11')}, ${localTimestamp('$12')})
         RETURNING RESULT_ID::text AS result_id`,
        params.slice(0, 12),
      )
    ).rows[0]!.result_id;
  t.written.add(id);
}

/**
 * OBX-11 U: the newest preliminary row of the order and test made final as it is (hl7-protocol's
 * final-status.ts); a row already final or corrected stays; none at all: refused (AE 204),
 * unless the U carries a value, stored then as the final result it is.
 */
async function finalizeResult(tx: pg.PoolClient, t: Target, change: FinalStatus, asFinal: LabResultValues | undefined, obx: number): Promise<void> {
  const ts = (c: string) => `to_char(${c}, 'YYYY-MM-DD HH24:MI:SS')`;
  const { rows } = await tx.query<LabResultValues & { id: string }>(
    `SELECT RESULT_ID::text AS id, TEST_NM AS "testName", RESULT_VAL AS value, UNITS AS units, REF_RANGE AS "referenceRange", ABN_FLAG AS "abnormalFlag",
            RESULT_STAT_CD AS status, ${ts('COLLECT_DT')} AS collected, ${ts('RESULT_DT')} AS resulted
       FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3 AND RESULT_STAT_CD = 'P' AND RESULT_ID <> ALL($4::bigint[])
      ORDER BY RESULT_ID DESC LIMIT 1 FOR UPDATE`,
    [...t.same, [...t.written]],
  );
  const held = rows[0];
  if (held) {
    // the stay too stays unless PV1-19 names one
    await tx.query(`UPDATE LAB_RESULT SET ADM_ID = COALESCE($4, ADM_ID), ${COLUMNS}
                     WHERE RESULT_ID = $13 AND PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3`, [...t.same, t.admId, ...rowValues(finalized(held, change)), held.id]);
    t.written.add(held.id);
    return;
  }
  const any = await tx.query('SELECT 1 FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3 LIMIT 1', t.same);
  if ((any.rowCount ?? 0) > 0) return;
  if (!asFinal) throw noResultToFinalize(obx);
  await storeResult(tx, t, asFinal);
}
