/**
 * OBX-11 = U (table 0085): "Results status change to final without retransmitting results
 * already sent as preliminary" (e.g. radiology changes status from preliminary to final). The
 * OBX names a result sent before and usually leaves OBX-5 empty: read as a result of its own,
 * it erased the preliminary value (value, units, range and flag null, status F: seen on the
 * demo, 2026-12). So a U is a change to a result the receiver holds, not a result:
 *
 * - the receiver makes final its newest preliminary result of the order and test (the one an
 *   F would replace); the printed result (value, units, range, flag) stays unless OBX-5 carries
 *   a value: then the U is the final result sent again, and all four are taken as an F would
 *   take them (never a new value beside the old flag); the test name stays unless OBX-3 names
 *   one; the collection time stays unless OBR-7, SPM-17 or OBX-14 give one (MSH-7 is the
 *   message's time, not the specimen's); the result time is when the result became final, as
 *   for F (OBR-22, OBX-19, else MSH-7); the stay stays unless PV1-19 names one;
 * - a result already final or corrected stays as it is (U does not undo a correction);
 * - no result of the order and test at all: the U names an unknown key (HL7 204: "used for
 *   transactions other than additions") and is refused, unless OBX-5 carries a value: then it
 *   is stored as the final result it carries (`asFinal`), rather than lost until resent.
 *
 * Nothing here does I/O: both the legacy inbound and the services read a U here and compute
 * the final row with `finalized`, so both store the same thing.
 */
import type { LabResultValues, Order, PrintedResult } from './lab-results.js';

/** What a U sends; undefined: the result held keeps its own. */
export interface FinalStatus {
  testName: string | undefined;
  /** only when OBX-5 carries a value */
  printed: PrintedResult | undefined;
  /** OBR-7, SPM-17 or OBX-14 */
  collected: string | undefined;
  /** OBR-22, OBX-19, else MSH-7 */
  resulted: string | null;
}

interface ReadFields {
  testName: string | undefined;
  printed: PrintedResult;
  collected: string | undefined;
  resulted: string | null;
}

/** A U's OBX as read by readObservation. */
export function readFinalStatus(
  testCode: string,
  f: ReadFields,
  order: Order,
): { kind: 'finalize'; testCode: string; change: FinalStatus; asFinal: LabResultValues | undefined } {
  const carriesValue = f.printed.value !== null;
  const collected = f.collected ?? order.messageTime?.timestamp;
  const asFinal =
    carriesValue && collected !== undefined
      ? { testName: f.testName ?? testCode.toUpperCase(), ...f.printed, status: 'F' as const, collected, resulted: f.resulted }
      : undefined;
  return {
    kind: 'finalize',
    testCode,
    change: { testName: f.testName, printed: carriesValue ? f.printed : undefined, collected: f.collected, resulted: f.resulted },
    asFinal,
  };
}

/** The preliminary result `held` made final by a U. */
export function finalized(held: LabResultValues, u: FinalStatus): LabResultValues {
  const printed = u.printed ?? { value: held.value, units: held.units, referenceRange: held.referenceRange, abnormalFlag: held.abnormalFlag };
  return {
    testName: u.testName ?? held.testName,
    ...printed,
    status: 'F',
    collected: u.collected ?? held.collected,
    resulted: u.resulted ?? held.resulted,
  };
}
