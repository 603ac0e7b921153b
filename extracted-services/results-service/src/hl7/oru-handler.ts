/**
 * ORU^R01: laboratory results, read as @ficus/hl7-protocol reads them (as the legacy inbound
 * does), to the same effect as the legacy inbound has on LAB_RESULT: one result per OBX of
 * each order of each patient; a correction (OBX-11 C) replaces the patient's earlier result
 * of the same order and test, a final or preliminary result replaces a preliminary one, D and
 * W withdraw them. Besides, every version replaced or withdrawn is kept (lab_result_version),
 * and each change follows the conflict rule (hl7MayOverwrite). Patients and stays are
 * patient-service's: asked of its API.
 */
import { patientMrn, readObservation, readOrder, readResultMessage, unknownPatient, type LabResultValues } from '@ficus/hl7-protocol';
import { localTimestamp, sqlTimestamp } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, lockEarlyCopies, type Hl7Context, type HandlerOutcome, type Hl7Handlers, type OutboxSeam, type OutgoingChange } from '@ficus/service-kit';
import type { PatientDirectory } from '../patient-directory.js';

interface Scope {
  ctx: Hl7Context;
  /** the results this message created, replaced or withdrew, for the outbox */
  changed: Map<string, OutgoingChange['op']>;
  mrn: string;
  encounterId: number | null;
  orderNo: string;
}

/** the `lab-results` topic's row (CDC-TOPICS.md names, the legacy's values) of a result */
async function toOutbox(ctx: Hl7Context, outbox: OutboxSeam, changed: Map<string, OutgoingChange['op']>): Promise<void> {
  for (const [id, op] of changed) {
    if (op === 'delete') {
      await outbox(ctx.tx, { topic: 'lab-results', op, key: { resultId: id }, before: null, after: null });
      continue;
    }
    const { rows } = await ctx.tx.query<Record<string, unknown>>(
      `SELECT id::text AS "resultId", mrn, encounter_id::int AS "admissionId", order_number AS "orderNumber", test_code AS "testCode", test_name AS "testName",
              value, units, reference_range AS "referenceRange", abnormal_flag AS "abnormalFlag", status, ${sqlTimestamp('collected_at')} AS "collectedDate",
              ${sqlTimestamp('resulted_at')} AS "resultDate", ${sqlTimestamp('updated_at')} AS "lastUpdated"
         FROM lab_result WHERE id = $1`,
      [id],
    );
    if (rows[0]) await outbox(ctx.tx, { topic: 'lab-results', op, key: { resultId: id }, before: null, after: rows[0] });
  }
}

export function oruHandlers(patients: PatientDirectory, outbox: OutboxSeam): Hl7Handlers {
  return {
    ORU: {
      R01: async (ctx) => {
        const { message } = ctx;
        const { patients: groups, messageTime } = readResultMessage(message);
        const outcomes: HandlerOutcome[] = [];
        const changed = new Map<string, OutgoingChange['op']>();
        const mrns: string[] = [];
        for (const group of groups) {
          const mrn = await patients.resolve(patientMrn(message, group.pid));
          if (mrn === undefined) throw unknownPatient(group.pid);
          mrns.push(mrn);
        }
        // the patients' results are worked one message at a time, and not beside the legacy's copy coming through CDC
        await lockEarlyCopies(ctx.tx, 'lab-result', mrns, 'handler');
        for (const [i, group] of groups.entries()) {
          const mrn = mrns[i]!;
          const encounterId = group.visitNo === undefined ? null : await patients.stayOf(mrn, group.visitNo);
          for (const orderGroup of group.orders) {
            const order = readOrder(message, orderGroup, messageTime);
            for (const obx of orderGroup.observations) {
              const observation = readObservation(message, obx, order);
              const scope = { ctx, changed, mrn, encounterId, orderNo: order.orderNo };
              if (observation.kind === 'skip') outcomes.push('applied');
              else if (observation.kind === 'withdraw') outcomes.push(await withdrawResults(scope, observation.testCode));
              else outcomes.push(await storeResult(scope, observation.testCode, observation.result));
            }
          }
        }
        if (ctx.writeBack) await toOutbox(ctx, outbox, changed);
        return outcomes.length === 0 || outcomes.includes('applied') ? 'applied' : 'stale';
      },
    },
  };
}

const keepVersion = (replacedBy: string) =>
  `INSERT INTO lab_result_version (result_id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, replaced_by)
   SELECT id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, '${replacedBy}' FROM lab_result`;

/** D, W: the patient's results of the order and test are withdrawn (their last versions kept) */
async function withdrawResults(s: Scope, testCode: string): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = s.ctx;
  const newer = hl7MayOverwrite('lab_result', '$4', '$5', systemOfRecord);
  const { rows } = await tx.query<{ id: string }>(`SELECT id FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND ${newer} FOR UPDATE`, [
    s.mrn,
    s.orderNo,
    testCode,
    order.time,
    order.seq,
  ]);
  if (rows.length === 0) return 'stale';
  const ids = rows.map((r) => r.id);
  await tx.query(`${keepVersion('withdrawn')} WHERE id = ANY($1::bigint[])`, [ids]);
  await tx.query('DELETE FROM lab_result WHERE id = ANY($1::bigint[])', [ids]);
  for (const id of ids) s.changed.set(id, 'delete');
  return 'applied';
}

/**
 * A correction replaces the result of the same order and test, whatever its status; a final
 * or a preliminary result replaces a preliminary one (the laboratory's result moving on), the
 * version replaced kept; else a new result.
 */
async function storeResult(s: Scope, testCode: string, r: LabResultValues): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = s.ctx;
  const same = [s.mrn, s.orderNo, testCode];
  const newer = hl7MayOverwrite('lab_result', '$4', '$5', systemOfRecord);
  const stamp = `hl7_time = ${localTimestamp('$4')}, hl7_seq = $5::bigint${systemOfRecord === 'service' ? ', local_changed_at = clock_timestamp()' : ''}`;
  const row = [s.encounterId, r.testName, r.value, r.units, r.referenceRange, r.abnormalFlag, r.status, r.collected, r.resulted];
  const params = [...same, order.time, order.seq, ...row];
  const replaceable = r.status === 'C' ? 'TRUE' : `status = 'P'`;
  const target = await tx.query<{ id: string; newer: boolean }>(
    `SELECT id, ${newer} AS newer FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND ${replaceable} ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    [...same, order.time, order.seq],
  );
  const existing = target.rows[0];
  if (existing) {
    if (!existing.newer) return 'stale';
    await tx.query(`${keepVersion(`hl7:ORU^R01`)} WHERE id = $1`, [existing.id]);
    await tx.query(
      `UPDATE lab_result SET encounter_id = $6, test_name = $7, value = $8, units = $9, reference_range = $10, abnormal_flag = $11, status = $12,
              collected_at = ${localTimestamp('$13')}, resulted_at = ${localTimestamp('$14')}, updated_at = LOCALTIMESTAMP(0), ${stamp}
        WHERE id = $15 AND mrn = $1 AND order_number = $2 AND test_code = $3`,
      [...params, existing.id],
    );
    if (s.changed.get(existing.id) !== 'create') s.changed.set(existing.id, 'update');
    return 'applied';
  }
  if (systemOfRecord === 'legacy') {
    // the legacy's committed copy of this very result came first through CDC: nothing to add
    const { rowCount } = await tx.query(
      `SELECT 1 FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND NOT provisional AND status = $4
          AND value IS NOT DISTINCT FROM $5 AND collected_at = ${localTimestamp('$6')} AND committed_at >= ${localTimestamp('$7')}`,
      [...same, r.status, r.value, r.collected, order.time],
    );
    if ((rowCount ?? 0) > 0) return 'stale';
  }
  const created = await tx.query<{ id: string }>(
    `INSERT INTO lab_result (id, provisional, mrn, order_number, test_code, encounter_id, test_name, value, units, reference_range, abnormal_flag, status,
                             collected_at, resulted_at, hl7_time, hl7_seq${systemOfRecord === 'service' ? ', local_changed_at' : ''})
     VALUES (nextval('lab_result_id_seq'), $15, $1, $2, $3, $6, $7, $8, $9, $10, $11, $12, ${localTimestamp('$13')}, ${localTimestamp('$14')},
             ${localTimestamp('$4')}, $5${systemOfRecord === 'service' ? ', clock_timestamp()' : ''})
     RETURNING id`,
    [...params, systemOfRecord === 'legacy'],
  );
  s.changed.set(created.rows[0]!.id, 'create');
  return 'applied';
}
