/**
 * ORU^R01: laboratory results, read as @ficus/hl7-protocol reads them (as the legacy inbound
 * does), to the same effect as the legacy inbound has on LAB_RESULT: one result per OBX of
 * each order of each patient; a correction (OBX-11 C) replaces the patient's earlier result
 * of the same order and test, a final or preliminary result replaces a preliminary one, U
 * makes the preliminary one final as it is (final-status.ts), D and W withdraw them; never a
 * result this message wrote (two OBX of one test in one order, two organisms of one culture,
 * are two results). A final result for one already final or corrected is a resend: it changes
 * nothing (the legacy inbound adds it as another row). Beyond the legacy, the NTE comments of
 * each observation are kept (observation-comments.ts, FHIR Observation.note). Besides, every version replaced or withdrawn is kept (lab_result_version),
 * and each change follows the conflict rule (hl7MayOverwrite). Patients and stays are
 * patient-service's: asked of its API. What a message the legacy did not get changed is written
 * back (result-write-back.ts), each result with its row as it was before the message.
 */
import {
  finalized,
  noResultToFinalize,
  patientMrn,
  readObservation,
  readOrder,
  readResultMessage,
  unknownPatient,
  type FinalStatus,
  type LabResultValues,
} from '@ficus/hl7-protocol';
import { localTimestamp } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, lockEarlyCopies, type Hl7Context, type HandlerOutcome, type Hl7Handlers, type OutboxSeam, type OutgoingChange } from '@ficus/service-kit';
import type { PatientDirectory } from '../patient-directory.js';
import { beforeLocalChange, type BeforeLocalChange } from '../results/local-changes.js';
import { observationComments } from './observation-comments.js';
import { resultChanged } from './result-write-back.js';

interface Scope {
  ctx: Hl7Context;
  /** the results this message created, replaced or withdrew, for the outbox */
  changed: Map<string, OutgoingChange['op']>;
  /** each result it replaced as it was before (written back only) */
  before: Map<string, BeforeLocalChange>;
  /** the results this message wrote, or found already written by the legacy: not earlier results for its later OBX */
  written: Set<string>;
  mrn: string;
  encounterId: number | null;
  orderNo: string;
  /** the NTE comments of the observation at hand */
  comments: string[] | null;
}

export function oruHandlers(patients: PatientDirectory, outbox: OutboxSeam): Hl7Handlers {
  return {
    ORU: {
      R01: async (ctx) => {
        const { message } = ctx;
        const { patients: groups, messageTime } = readResultMessage(message);
        const outcomes: HandlerOutcome[] = [];
        const changed = new Map<string, OutgoingChange['op']>();
        const before = new Map<string, BeforeLocalChange>();
        const written = new Set<string>();
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
              const scope = { ctx, changed, before, written, mrn, encounterId, orderNo: order.orderNo, comments: observationComments(message, obx) };
              if (observation.kind === 'skip') outcomes.push('applied');
              else if (observation.kind === 'withdraw') outcomes.push(await withdrawResults(scope, observation.testCode));
              else if (observation.kind === 'finalize') outcomes.push(await finalizeResult(scope, observation.testCode, observation.change, observation.asFinal, obx));
              else outcomes.push(await storeResult(scope, observation.testCode, observation.result));
            }
          }
        }
        if (ctx.writeBack) for (const [id, op] of changed) await resultChanged(outbox, ctx.tx, id, op, before.get(id));
        return outcomes.length === 0 || outcomes.includes('applied') ? 'applied' : 'stale';
      },
    },
  };
}

const keepVersion = (replacedBy: string) =>
  `INSERT INTO lab_result_version (result_id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, comments, replaced_by)
   SELECT id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, comments, '${replacedBy}' FROM lab_result`;

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
 * Replaces the values of result `id` (its version kept); `encounter` is the SQL of its new stay
 * ($6: the message's), `comments` of its comments ($16: the observation's).
 */
async function replaceResult(s: Scope, id: string, testCode: string, r: LabResultValues, encounter = '$6', comments = '$16::text[]'): Promise<void> {
  const { tx, systemOfRecord } = s.ctx;
  const stamp = `hl7_time = ${localTimestamp('$4')}, hl7_seq = $5::bigint${systemOfRecord === 'service' ? ', local_changed_at = clock_timestamp()' : ''}`;
  if (s.ctx.writeBack && !s.before.has(id)) {
    const before = await beforeLocalChange(tx, id);
    if (before) s.before.set(id, before);
  }
  await tx.query(`${keepVersion(`hl7:ORU^R01`)} WHERE id = $1`, [id]);
  await tx.query(
    `UPDATE lab_result SET encounter_id = ${encounter}, test_name = $7, value = $8, units = $9, reference_range = $10, abnormal_flag = $11, status = $12,
            collected_at = ${localTimestamp('$13')}, resulted_at = ${localTimestamp('$14')}, updated_at = LOCALTIMESTAMP(0), comments = ${comments}, ${stamp}
      WHERE id = $15 AND mrn = $1 AND order_number = $2 AND test_code = $3`,
    [...resultParams(s, testCode, r), id, s.comments],
  );
  s.written.add(id);
  if (s.changed.get(id) !== 'create') s.changed.set(id, 'update');
}

/** $1–$3 the order and test, $4–$5 the message's order, $6–$14 the row */
const resultParams = (s: Scope, testCode: string, r: LabResultValues) => [
  s.mrn,
  s.orderNo,
  testCode,
  s.ctx.order.time,
  s.ctx.order.seq,
  s.encounterId,
  r.testName,
  r.value,
  r.units,
  r.referenceRange,
  r.abnormalFlag,
  r.status,
  r.collected,
  r.resulted,
];

/**
 * A correction replaces the result of the same order and test, whatever its status; a final
 * or a preliminary result replaces a preliminary one (the laboratory's result moving on), the
 * version replaced kept; a final result where there is one already final or corrected is a
 * resend (finalResent); else a new result.
 */
async function storeResult(s: Scope, testCode: string, r: LabResultValues): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = s.ctx;
  const same = [s.mrn, s.orderNo, testCode];
  const newer = hl7MayOverwrite('lab_result', '$4', '$5', systemOfRecord);
  const params = resultParams(s, testCode, r);
  const replaceable = r.status === 'C' ? 'TRUE' : `status = 'P'`;
  const target = await tx.query<{ id: string; newer: boolean }>(
    `SELECT id::text, ${newer} AS newer FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND ${replaceable} AND id <> ALL($6::bigint[])
      ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    [...same, order.time, order.seq, [...s.written]],
  );
  const existing = target.rows[0];
  if (existing) {
    if (!existing.newer) {
      s.written.add(existing.id);
      return 'stale';
    }
    await replaceResult(s, existing.id, testCode, r);
    return 'applied';
  }
  if (r.status === 'F' && (await finalResent(s, testCode, r))) return 'stale';
  if (systemOfRecord === 'legacy') {
    // the legacy's committed copy of this very result came first through CDC: nothing to add
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id::text FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND NOT provisional AND status = $4
          AND value IS NOT DISTINCT FROM $5 AND collected_at = ${localTimestamp('$6')} AND committed_at >= ${localTimestamp('$7')} AND id <> ALL($8::bigint[])
        ORDER BY id LIMIT 1`,
      [...same, r.status, r.value, r.collected, order.time, [...s.written]],
    );
    if (rows[0]) {
      s.written.add(rows[0].id);
      // the legacy keeps no comments: the message's are only here
      if (s.comments) await tx.query('UPDATE lab_result SET comments = $2::text[] WHERE id = $1 AND comments IS NULL', [rows[0].id, s.comments]);
      return 'stale';
    }
  }
  const created = await tx.query<{ id: string }>(
    `INSERT INTO lab_result (id, provisional, mrn, order_number, test_code, encounter_id, test_name, value, units, reference_range, abnormal_flag, status,
                             collected_at, resulted_at, comments, hl7_time, hl7_seq${systemOfRecord === 'service' ? ', local_changed_at' : ''})
     VALUES (nextval('lab_result_id_seq'), $15, $1, $2, $3, $6, $7, $8, $9, $10, $11, $12, ${localTimestamp('$13')}, ${localTimestamp('$14')}, $16::text[],
             ${localTimestamp('$4')}, $5${systemOfRecord === 'service' ? ', clock_timestamp()' : ''})
     RETURNING id::text`,
    [...params, systemOfRecord === 'legacy', s.comments],
  );
  s.written.add(created.rows[0]!.id);
  s.changed.set(created.rows[0]!.id, 'create');
  return 'applied';
}

/**
 * HL7 changes a final result only by a correction (C): a final (F) for a result of the order and
 * test already final or corrected is that result sent again, or out of order, and changes nothing
 * (a probe: a resent F after its correction added a second troponin, the uncorrected value, listed
 * as the newest). Each such OBX stands for one of those results, oldest first (the OBX order of
 * the message that made them), so a resent culture of two organisms matches both and a third
 * organism is still a new result. Whether the resend is newer does not matter.
 */
async function finalResent(s: Scope, testCode: string, r: LabResultValues): Promise<boolean> {
  const { tx } = s.ctx;
  const { rows } = await tx.query<{ id: string; same: boolean }>(
    `SELECT id::text, status = 'F' AND value IS NOT DISTINCT FROM $5 AS same
       FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND status IN ('F', 'C') AND id <> ALL($4::bigint[])
      ORDER BY id LIMIT 1 FOR UPDATE`,
    [s.mrn, s.orderNo, testCode, [...s.written], r.value],
  );
  const held = rows[0];
  if (!held) return false;
  s.written.add(held.id);
  // the same final result (the legacy's copy of this very message, come first through CDC, keeps no comments): its comments are the message's
  if (held.same && s.comments) await tx.query('UPDATE lab_result SET comments = $2::text[] WHERE id = $1 AND comments IS NULL', [held.id, s.comments]);
  return true;
}

/**
 * OBX-11 U: the newest preliminary result of the order and test made final as it is
 * (@ficus/hl7-protocol's final-status.ts, as the legacy inbound does); a result already final
 * or corrected stays; none at all: refused (HL7 204), unless the U carries a value, stored
 * then as the final result it is.
 */
async function finalizeResult(s: Scope, testCode: string, change: FinalStatus, asFinal: LabResultValues | undefined, obx: number): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = s.ctx;
  const same = [s.mrn, s.orderNo, testCode];
  const newer = hl7MayOverwrite('lab_result', '$4', '$5', systemOfRecord);
  const ts = (c: string) => `to_char(${c}, 'YYYY-MM-DD HH24:MI:SS')`;
  const { rows } = await tx.query<LabResultValues & { id: string; newer: boolean }>(
    `SELECT id::text, ${newer} AS newer, test_name AS "testName", value, units, reference_range AS "referenceRange", abnormal_flag AS "abnormalFlag",
            status, ${ts('collected_at')} AS collected, ${ts('resulted_at')} AS resulted
       FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND status = 'P' AND id <> ALL($6::bigint[])
      ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    [...same, order.time, order.seq, [...s.written]],
  );
  const held = rows[0];
  if (held) {
    if (!held.newer) {
      s.written.add(held.id);
      return 'stale';
    }
    // the stay too stays unless PV1-19 names one, and the comments unless the U has its own (it retransmits nothing)
    await replaceResult(s, held.id, testCode, finalized(held, change), 'COALESCE($6, encounter_id)', 'COALESCE($16::text[], comments)');
    return 'applied';
  }
  const any = await tx.query('SELECT 1 FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 LIMIT 1', same);
  if ((any.rowCount ?? 0) > 0) return 'applied';
  if (!asFinal) throw noResultToFinalize(obx);
  return storeResult(s, testCode, asFinal);
}
