/**
 * ORU^R01: laboratory results, to the same effect as the legacy inbound has on LAB_RESULT
 * (examples/legacy-his/src/hl7/oru-handler.ts): one result per OBX of each order (OBR) of each
 * patient (PID), until the order's SPM; the value as printed; a correction (OBX-11 C) replaces
 * the patient's earlier result of the same order and test, a final or preliminary result
 * replaces a preliminary one, D and W withdraw them. Every version replaced or withdrawn is
 * kept (lab_result_version). Patients and stays are patient-service's: asked of its API.
 */
import { abnormalFlag, observationAction, parseDateTime, plainText, upperText, type Hl7Message, type ParsedDateTime } from '@ficus/hl7-protocol';
import { at, checkMrn, dateTimeField, hl7MayOverwrite, localTimestamp, nth, refuse, segmentOccurrences, sqlTimestamp, type Hl7Context, type HandlerOutcome, type Hl7Handlers, type OutboxSeam, type OutgoingChange } from '@ficus/service-kit';
import type { PatientDirectory } from '../patient-directory.js';

interface OrderGroup {
  obr: number;
  orc: number | undefined;
  observations: number[];
  specimenCollected: ParsedDateTime | undefined;
  inSpecimen: boolean;
}

interface PatientGroup {
  pid: number;
  pv1: number | undefined;
  orders: OrderGroup[];
}

function readStructure(m: Hl7Message): PatientGroup[] {
  const patients: PatientGroup[] = [];
  let patient: PatientGroup | undefined;
  let order: OrderGroup | undefined;
  let orc: number | undefined;
  for (const [id, n] of segmentOccurrences(m)) {
    switch (id) {
      case 'PID':
        patient = { pid: n, pv1: undefined, orders: [] };
        patients.push(patient);
        order = undefined;
        orc = undefined;
        break;
      case 'PV1':
        if (patient && !order) patient.pv1 = n;
        break;
      case 'ORC':
        order = undefined;
        orc = n;
        break;
      case 'OBR':
        if (!patient) throw refuse(100, 'an OBR comes before any PID', at('OBR', n));
        order = { obr: n, orc, observations: [], specimenCollected: undefined, inSpecimen: false };
        patient.orders.push(order);
        orc = undefined;
        break;
      case 'SPM':
        if (order) {
          order.specimenCollected ??= parseDateTime(m.get(nth('SPM', n, '17.1')));
          order.inSpecimen = true;
        }
        break;
      case 'OBX':
        if (order && !order.inSpecimen) order.observations.push(n);
        break;
    }
  }
  return patients;
}

const NOT_PRINTABLE = new Set(['RP', 'ED']);
const NUMERIC = new Set(['NM', 'SN']);

function resultText(m: Hl7Message, obx: number, valueType: string): string | null {
  const field = nth('OBX', obx, '5');
  const count = Math.max(1, m.repetitionCount(field));
  const printed: string[] = [];
  for (let r = 1; r <= count; r++) {
    const c = (k: number) => m.get(`${field}(${r}).${k}`).trim();
    let text: string;
    switch (valueType) {
      case 'SN':
        text = `${c(1)}${c(2)}${c(3)}${c(4)}`;
        break;
      case 'CE':
      case 'CWE':
      case 'CNE':
        text = c(2) || c(9) || c(1);
        break;
      default:
        text = c(1);
    }
    if (text !== '') printed.push(text);
  }
  return printed.length === 0 ? null : printed.join(', ').slice(0, 60);
}

function orderNumber(m: Hl7Message, order: OrderGroup): string {
  const candidates = [nth('OBR', order.obr, '3.1'), nth('OBR', order.obr, '2.1')];
  if (order.orc !== undefined) candidates.push(nth('ORC', order.orc, '3.1'), nth('ORC', order.orc, '2.1'));
  const number = candidates.map((p) => m.get(p).trim()).find((v) => v !== '' && v !== '""');
  if (number === undefined) throw refuse(101, 'OBR-3 and OBR-2 (the order number) are both missing', at('OBR', order.obr, 3, 1));
  if (number.length > 12) throw refuse(104, 'the order number (OBR-3 or OBR-2) is longer than 12 characters', at('OBR', order.obr, 3, 1));
  return number;
}

interface Scope {
  ctx: Hl7Context;
  /** the results this message created, replaced or withdrew, for the outbox */
  changed: Map<string, OutgoingChange['op']>;
  obr: number;
  mrn: string;
  encounterId: number | null;
  orderNo: string;
  collected: ParsedDateTime | undefined;
  reported: ParsedDateTime | undefined;
  messageTime: ParsedDateTime | undefined;
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
        const groups = readStructure(message);
        if (groups.length === 0) throw refuse(101, 'the PID segment is missing: it names the patient', at('PID', 1));
        const messageTime = parseDateTime(message.get('MSH-7.1'));
        const outcomes: HandlerOutcome[] = [];
        const changed = new Map<string, OutgoingChange['op']>();
        for (const group of groups) {
          const sent = checkMrn(message.get(nth('PID', group.pid, '3.1')), 'PID', group.pid, 3, 'PID-3');
          const mrn = await patients.resolve(sent);
          if (mrn === undefined) throw refuse(204, 'PID-3: no patient with this MRN', at('PID', group.pid, 3, 1));
          // the patient's results are worked one message at a time
          await ctx.tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lab-result:${mrn}`]);
          const encounterId = await stayOf(patients, message, mrn, group.pv1);
          for (const order of group.orders) {
            const orderNo = orderNumber(message, order);
            const collected = dateTimeField(message, 'OBR', order.obr, 7) ?? order.specimenCollected;
            const reported = dateTimeField(message, 'OBR', order.obr, 22);
            for (const obx of order.observations) {
              outcomes.push(await storeObservation(obx, { ctx, changed, obr: order.obr, mrn, encounterId, orderNo, collected, reported, messageTime }));
            }
          }
        }
        if (ctx.systemOfRecord === 'service') await toOutbox(ctx, outbox, changed);
        return outcomes.length === 0 || outcomes.includes('applied') ? 'applied' : 'stale';
      },
    },
  };
}

async function stayOf(patients: PatientDirectory, m: Hl7Message, mrn: string, pv1: number | undefined): Promise<number | null> {
  if (pv1 === undefined) return null;
  const visitNo = m.get(nth('PV1', pv1, '19.1')).trim();
  if (visitNo === '' || visitNo.length > 20) return null;
  return patients.stayOf(mrn, visitNo);
}

const keepVersion = (replacedBy: string) =>
  `INSERT INTO lab_result_version (result_id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, replaced_by)
   SELECT id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, '${replacedBy}' FROM lab_result`;

async function storeObservation(obx: number, s: Scope): Promise<HandlerOutcome> {
  const { tx, message: m, order, systemOfRecord } = s.ctx;
  const v = (rest: string) => m.get(nth('OBX', obx, rest));
  const valueType = v('2').trim().toUpperCase();
  if (NOT_PRINTABLE.has(valueType)) return 'applied';
  const rawStatus = v('11').trim();
  if (rawStatus === '') throw refuse(101, 'OBX-11 (the result status) is missing', at('OBX', obx, 11));
  const action = observationAction(rawStatus);
  if (action === undefined) throw refuse(103, 'OBX-11 is not a result status of table 0085', at('OBX', obx, 11));
  if ('skip' in action) return 'applied';

  const testCode = v('3.1').trim();
  if (testCode === '') throw refuse(101, 'OBX-3 (the test code) is missing', at('OBX', obx, 3, 1));
  if (testCode.length > 10) throw refuse(104, 'OBX-3 (the test code) is longer than 10 characters', at('OBX', obx, 3, 1));
  const same = [s.mrn, s.orderNo, testCode];
  const newer = hl7MayOverwrite('lab_result', '$4', '$5', systemOfRecord);
  const stamp = `hl7_time = ${localTimestamp('$4')}, hl7_seq = $5::bigint${systemOfRecord === 'service' ? ', local_changed_at = clock_timestamp()' : ''}`;

  if ('delete' in action) {
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM lab_result WHERE mrn = $1 AND order_number = $2 AND test_code = $3 AND ${newer} FOR UPDATE`, [...same, order.time, order.seq]);
    if (rows.length === 0) return 'stale';
    const ids = rows.map((r) => r.id);
    await tx.query(`${keepVersion('withdrawn')} WHERE id = ANY($1::bigint[])`, [ids]);
    await tx.query('DELETE FROM lab_result WHERE id = ANY($1::bigint[])', [ids]);
    for (const id of ids) s.changed.set(id, 'delete');
    return 'applied';
  }

  const collected = s.collected ?? dateTimeField(m, 'OBX', obx, 14) ?? s.messageTime;
  if (collected === undefined) throw refuse(101, 'OBR-7 (the collection date/time) is missing, and so are SPM-17, OBX-14 and MSH-7', at('OBR', s.obr, 7));
  const resulted = s.reported ?? dateTimeField(m, 'OBX', obx, 19) ?? s.messageTime;
  const row = [
    s.encounterId,
    firstText(upperText(v('3.2'), 40), upperText(v('3.9'), 40)) ?? testCode.toUpperCase(),
    resultText(m, obx, valueType),
    firstText(plainText(v('6.1'), 15), plainText(v('6.2'), 15)) ?? null,
    firstText(plainText(v('7'), 20)) ?? null,
    abnormalFlag(v('8'), NUMERIC.has(valueType)),
    action.store,
    collected.timestamp,
    resulted?.timestamp ?? null,
  ];
  const params = [...same, order.time, order.seq, ...row];
  // a correction replaces the row of the same order and test, whatever its status; a final or
  // a preliminary result replaces a preliminary one (the laboratory's result moving on)
  const replaceable = action.store === 'C' ? 'TRUE' : `status = 'P'`;
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
      [...same, action.store, row[2], collected.timestamp, order.time],
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

function firstText(...values: (string | null | undefined)[]): string | undefined {
  return values.find((x): x is string => typeof x === 'string' && x !== '');
}
