/**
 * ORU^R01 as laboratory results: one result per observation (OBX) of each order (OBR) of each
 * patient (PID), with the value as the laboratory would print it.
 *
 * Structure read, in segment order: PID starts a patient; PV1 names their stay; ORC or OBR
 * starts an order; an OBX after an OBR is a result of that order, until the order's SPM (OBX
 * after an SPM describe the specimen, OBX before any OBR describe the patient: neither is a
 * laboratory result).
 *
 * A receiver walks the message patient by patient, order by order (readOrder), observation by
 * observation (readObservation), applying each as it goes: a part is refused only when the
 * receiver reaches it, so the first problem in the message is the one answered.
 */
import type { Hl7Message } from '../hl7/message.js';
import { abnormalFlag, cutToWidth, HL7_NULL, observationAction, parseDateTime, plainText, upperText, type AbnormalFlag, type ParsedDateTime } from '../hl7/values.js';
import { readFinalStatus, type FinalStatus } from './final-status.js';
import { dateTimeField, nth, segmentOccurrences } from './message-reading.js';
import { at, refuse } from './refusal.js';

export interface OrderGroup {
  obr: number;
  /** the ORC before the OBR, for an order number the OBR does not give */
  orc: number | undefined;
  observations: number[];
  /** SPM-17.1 (specimen collection date/time) of the order's first SPM */
  specimenCollected: ParsedDateTime | undefined;
  inSpecimen: boolean;
}

export interface PatientGroup {
  pid: number;
  /** PV1-19.1 of the patient's PV1 when it can name a stay (1 to 20 characters), else undefined: a clinic draw */
  visitNo: string | undefined;
  orders: OrderGroup[];
}

export interface ResultMessage {
  patients: PatientGroup[];
  /** MSH-7: the collection and result time of last resort */
  messageTime: ParsedDateTime | undefined;
}

/** The message's patients and orders; refused when it names no patient (101) or an OBR comes before any PID (100). */
export function readResultMessage(m: Hl7Message): ResultMessage {
  const patients: (PatientGroup & { pv1?: number })[] = [];
  let patient: (PatientGroup & { pv1?: number }) | undefined;
  let order: OrderGroup | undefined;
  let orc: number | undefined;
  for (const [id, n] of segmentOccurrences(m)) {
    switch (id) {
      case 'PID':
        patient = { pid: n, visitNo: undefined, orders: [] };
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
  if (patients.length === 0) throw refuse(101, 'the PID segment is missing: it names the patient', at('PID', 1));
  return {
    patients: patients.map(({ pv1, ...group }) => ({ ...group, visitNo: pv1 === undefined ? undefined : resultVisitNumber(m, pv1) })),
    messageTime: parseDateTime(m.get('MSH-7.1')),
  };
}

function resultVisitNumber(m: Hl7Message, pv1: number): string | undefined {
  const visitNo = m.get(nth('PV1', pv1, '19.1')).trim();
  return visitNo === '' || visitNo.length > 20 ? undefined : visitNo;
}

export interface Order {
  obr: number;
  /** OBR-3.1, else OBR-2.1, else the ORC's ORC-3.1, ORC-2.1 */
  orderNo: string;
  /** OBR-7, else the specimen's SPM-17 */
  collected: ParsedDateTime | undefined;
  /** OBR-22 */
  reported: ParsedDateTime | undefined;
  /** MSH-7 */
  messageTime: ParsedDateTime | undefined;
}

/** An order's number and times; refused when it has no number (101), a number over 12 characters (104) or a bad time (102). */
export function readOrder(m: Hl7Message, group: OrderGroup, messageTime: ParsedDateTime | undefined): Order {
  const candidates = [nth('OBR', group.obr, '3.1'), nth('OBR', group.obr, '2.1')];
  if (group.orc !== undefined) candidates.push(nth('ORC', group.orc, '3.1'), nth('ORC', group.orc, '2.1'));
  const orderNo = candidates.map((p) => m.get(p).trim()).find((v) => v !== '' && v !== HL7_NULL);
  if (orderNo === undefined) throw refuse(101, 'OBR-3 and OBR-2 (the order number) are both missing', at('OBR', group.obr, 3, 1));
  if (orderNo.length > 12) throw refuse(104, 'the order number (OBR-3 or OBR-2) is longer than 12 characters', at('OBR', group.obr, 3, 1));
  const collected = dateTimeField(m, 'OBR', group.obr, 7) ?? group.specimenCollected;
  const reported = dateTimeField(m, 'OBR', group.obr, 22);
  return { obr: group.obr, orderNo, collected, reported, messageTime };
}

/** What a result shows (OBX-5 to OBX-8). */
export interface PrintedResult {
  /** OBX-5 as printed: repetitions joined by ", ", cut to 60 characters */
  value: string | null;
  units: string | null;
  referenceRange: string | null;
  abnormalFlag: AbnormalFlag | null;
}

/** A result as it is stored (the row of one order and test). */
export interface LabResultValues extends PrintedResult {
  testName: string;
  status: 'F' | 'P' | 'C';
  /** ParsedDateTime.timestamp */
  collected: string;
  resulted: string | null;
}

/**
 * What an observation asks for: nothing (`skip`: no printable result, or a status without a
 * result), the withdrawal of the patient's results of this order and test (`withdraw`: D, W),
 * a result to store (`store`): a correction (C) replaces the result of the same order and
 * test whatever its status, a final or preliminary one replaces a preliminary one; or the
 * preliminary result made final as it is (`finalize`: U, final-status.ts).
 */
export type Observation =
  | { kind: 'skip' }
  | { kind: 'withdraw'; testCode: string }
  | { kind: 'store'; testCode: string; result: LabResultValues }
  | { kind: 'finalize'; testCode: string; change: FinalStatus; asFinal: LabResultValues | undefined };

/** OBX-2 value types that are not a printable result (a pointer, an encapsulated document) */
const NOT_PRINTABLE = new Set(['RP', 'ED']);
const NUMERIC = new Set(['NM', 'SN']);

/** Refused without a status (101) or with one outside table 0085 (103), without a test code (101) or with one over 10 characters (104), and without any collection time (101). */
export function readObservation(m: Hl7Message, obx: number, order: Order): Observation {
  const v = (rest: string) => m.get(nth('OBX', obx, rest));
  const valueType = v('2').trim().toUpperCase();
  if (NOT_PRINTABLE.has(valueType)) return { kind: 'skip' };
  const rawStatus = v('11').trim();
  if (rawStatus === '') throw refuse(101, 'OBX-11 (the result status) is missing', at('OBX', obx, 11));
  const action = observationAction(rawStatus);
  if (action === undefined) throw refuse(103, 'OBX-11 is not a result status of table 0085', at('OBX', obx, 11));
  if ('skip' in action) return { kind: 'skip' };

  const testCode = v('3.1').trim();
  if (testCode === '') throw refuse(101, 'OBX-3 (the test code) is missing', at('OBX', obx, 3, 1));
  if (testCode.length > 10) throw refuse(104, 'OBX-3 (the test code) is longer than 10 characters', at('OBX', obx, 3, 1));
  if ('delete' in action) return { kind: 'withdraw', testCode };

  const testName = firstText(upperText(v('3.2'), 40), upperText(v('3.9'), 40));
  const printed = printedResult(m, obx, valueType);
  const explicitlyCollected = order.collected ?? dateTimeField(m, 'OBX', obx, 14);
  const resulted = () => (order.reported ?? dateTimeField(m, 'OBX', obx, 19) ?? order.messageTime)?.timestamp ?? null;
  if ('finalize' in action) return readFinalStatus(testCode, { testName, printed, collected: explicitlyCollected?.timestamp, resulted: resulted() }, order);

  const collected = explicitlyCollected ?? order.messageTime;
  if (collected === undefined) throw refuse(101, 'OBR-7 (the collection date/time) is missing, and so are SPM-17, OBX-14 and MSH-7', at('OBR', order.obr, 7));
  return {
    kind: 'store',
    testCode,
    result: { testName: testName ?? testCode.toUpperCase(), ...printed, status: action.store, collected: collected.timestamp, resulted: resulted() },
  };
}

/** OBX-5 to OBX-8 as they are stored */
function printedResult(m: Hl7Message, obx: number, valueType: string): PrintedResult {
  const v = (rest: string) => m.get(nth('OBX', obx, rest));
  return {
    value: resultText(m, obx, valueType),
    units: firstText(plainText(v('6.1'), 15), plainText(v('6.2'), 15)) ?? null,
    referenceRange: firstText(plainText(v('7'), 20)) ?? null,
    abnormalFlag: abnormalFlag(v('8'), NUMERIC.has(valueType)),
  };
}

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
    // `""` is HL7's explicit null: no value, not the two characters
    if (text !== '' && text !== HL7_NULL) printed.push(text);
  }
  return printed.length === 0 ? null : cutToWidth(printed.join(', '), 60);
}

function firstText(...values: (string | null | undefined)[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}
