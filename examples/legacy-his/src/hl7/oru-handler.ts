/**
 * ORU^R01: laboratory results to LAB_RESULT, one row per observation (OBX) of each order (OBR),
 * for the patient of the PID before it and the stay of its PV1-19 (when the legacy knows it).
 *
 * Structure read, in segment order: PID starts a patient; PV1 names their stay; ORC or OBR
 * starts an order; an OBX after an OBR is a result of that order, until the order's SPM (OBX
 * after an SPM describe the specimen, OBX before any OBR describe the patient: neither is a
 * laboratory result).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { dateTimeField, nth, segmentOccurrences, type MessageContext } from './message-context.js';
import { abnormalFlag, at, localTimestamp, observationAction, parseDateTime, plainText, refuse, upperText, type ParsedDateTime } from './hl7-values.js';
import { lockPatient, patientMrn, survivorOf } from './patient-records.js';

interface OrderGroup {
  obr: number;
  /** the ORC before the OBR, for an order number the OBR does not give */
  orc: number | undefined;
  observations: number[];
  /** SPM-17.1 (specimen collection date/time) of the order's first SPM */
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

/** OBX-2 value types that are not a printable result (a pointer, an encapsulated document) */
const NOT_PRINTABLE = new Set(['RP', 'ED']);
const NUMERIC = new Set(['NM', 'SN']);

/** OBX-5 as the laboratory would print it: repetitions joined by ", " */
function resultText(m: Hl7Message, obx: number, valueType: string): string | null {
  const field = nth('OBX', obx, '5');
  const count = Math.max(1, m.repetitionCount(field));
  const printed: string[] = [];
  for (let r = 1; r <= count; r++) {
    const c = (k: number) => m.get(`${field}(${r}).${k}`).trim();
    let text: string;
    switch (valueType) {
      case 'SN': // comparator ^ number ^ separator/suffix ^ number: <^0.04, ^1^:^128, ^10^-^20
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
  if (number.length > 12) throw refuse(104, 'the order number (OBR-3 or OBR-2) is longer than the legacy keeps (12)', at('OBR', order.obr, 3, 1));
  return number;
}

export async function storeResults({ tx, message }: MessageContext): Promise<void> {
  const patients = readStructure(message);
  if (patients.length === 0) throw refuse(101, 'the PID segment is missing: it names the patient', at('PID', 1));
  const messageTime = parseDateTime(message.get('MSH-7.1'));
  for (const group of patients) {
    const mrn = await survivorOf(tx, patientMrn(message, group.pid));
    if (!(await lockPatient(tx, mrn))) throw refuse(204, 'PID-3: no patient with this MRN', at('PID', group.pid, 3, 1));
    const admId = await stayOf(tx, message, mrn, group.pv1);
    for (const order of group.orders) {
      const orderNo = orderNumber(message, order);
      const ordered = dateTimeField(message, 'OBR', order.obr, 7);
      const reported = dateTimeField(message, 'OBR', order.obr, 22);
      for (const obx of order.observations) {
        await storeObservation(tx, message, obx, { obr: order.obr, mrn, admId, orderNo, collected: ordered ?? order.specimenCollected, reported, messageTime });
      }
    }
  }
}

/** The stay of PV1-19 when the legacy knows it as this patient's; null (a clinic draw) otherwise */
async function stayOf(tx: pg.PoolClient, m: Hl7Message, mrn: string, pv1: number | undefined): Promise<number | null> {
  if (pv1 === undefined) return null;
  const visitNo = m.get(nth('PV1', pv1, '19.1')).trim();
  if (visitNo === '' || visitNo.length > 20) return null;
  const { rows } = await tx.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1 AND PAT_MRN = $2', [visitNo, mrn]);
  return rows[0]?.adm_id ?? null;
}

interface ObservationScope {
  obr: number;
  mrn: string;
  admId: number | null;
  orderNo: string;
  collected: ParsedDateTime | undefined;
  reported: ParsedDateTime | undefined;
  messageTime: ParsedDateTime | undefined;
}

async function storeObservation(tx: pg.PoolClient, m: Hl7Message, obx: number, scope: ObservationScope): Promise<void> {
  const v = (rest: string) => m.get(nth('OBX', obx, rest));
  const valueType = v('2').trim().toUpperCase();
  if (NOT_PRINTABLE.has(valueType)) return;
  const rawStatus = v('11').trim();
  if (rawStatus === '') throw refuse(101, 'OBX-11 (the result status) is missing', at('OBX', obx, 11));
  const action = observationAction(rawStatus);
  if (action === undefined) throw refuse(103, 'OBX-11 is not a result status of table 0085', at('OBX', obx, 11));
  if ('skip' in action) return;

  const testCode = v('3.1').trim();
  if (testCode === '') throw refuse(101, 'OBX-3 (the test code) is missing', at('OBX', obx, 3, 1));
  if (testCode.length > 10) throw refuse(104, 'OBX-3 (the test code) is longer than the legacy keeps (10)', at('OBX', obx, 3, 1));
  const same = [scope.mrn, scope.orderNo, testCode];

  if ('delete' in action) {
    await tx.query('DELETE FROM LAB_RESULT WHERE PAT_MRN = $1 AND ORDER_NO = $2 AND TEST_CD = $3', same);
    return;
  }

  const collected = scope.collected ?? dateTimeField(m, 'OBX', obx, 14) ?? scope.messageTime;
  if (collected === undefined) throw refuse(101, 'OBR-7 (the collection date/time) is missing, and so are SPM-17, OBX-14 and MSH-7', at('OBR', scope.obr, 7));
  const resulted = scope.reported ?? dateTimeField(m, 'OBX', obx, 19) ?? scope.messageTime;
  const row = [
    scope.admId,
    firstText(upperText(v('3.2'), 40), upperText(v('3.9'), 40)) ?? testCode.toUpperCase(),
    resultText(m, obx, valueType),
    firstText(plainText(v('6.1'), 15), plainText(v('6.2'), 15)) ?? null,
    firstText(plainText(v('7'), 20)) ?? null,
    abnormalFlag(v('8'), NUMERIC.has(valueType)),
    action.store,
    collected.timestamp,
    resulted?.timestamp ?? null,
  ];
  const columns = `ADM_ID = $4, TEST_NM = $5, RESULT_VAL = $6, UNITS = $7, REF_RANGE = $8, ABN_FLAG = $9, RESULT_STAT_CD = $10,
                   COLLECT_DT = ${localTimestamp('$11')}, RESULT_DT = ${localTimestamp('$12')}`;
  // a correction replaces the row of the same order and test, whatever its status; a final or
  // a preliminary result replaces a preliminary one (the laboratory's result moving on)
  const replaceable = action.store === 'C' ? 'TRUE' : `RESULT_STAT_CD = 'P'`;
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

function firstText(...values: (string | null | undefined)[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}
