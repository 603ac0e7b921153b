/**
 * OBX-11 = U (table 0085): "results status change to final without retransmitting results
 * already sent as preliminary". Read as a result of its own, a U with an empty OBX-5 erased
 * the preliminary value on both sides (2026-12 probe). It is read as a change to the result
 * held: what it leaves empty stays. The stores applying it are proven by
 * examples/legacy-his/test/hl7-oru.test.ts and results-service's final-status.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, finalized, noResultToFinalize, readObservation, readOrder, readResultMessage, type Hl7Message, type LabResultValues } from '../src/index.js';
import { hl7 } from './support/samples.js';

const ORU = 'MSH|^~\\&|LAB|CORELAB|HIS|GENHOSP|20240702120000||ORU^R01^ORU_R01|R1|P|2.5.1';

function message(...segments: string[]): Hl7Message {
  const decoded = decodeMessage(hl7(...segments));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}
function seg(id: string, fields: Record<number, string>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  return [id, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}
function observations(obr: Record<number, string>, ...obx: Record<number, string>[]) {
  const m = message(ORU, 'PID|1||100001', seg('OBR', { 1: '1', 3: 'F1', ...obr }), ...obx.map((f, i) => seg('OBX', { 1: String(i + 1), 11: 'U', ...f })));
  const { patients, messageTime } = readResultMessage(m);
  const order = readOrder(m, patients[0]!.orders[0]!, messageTime);
  return obx.map((_, i) => readObservation(m, i + 1, order));
}

const PRELIMINARY: LabResultValues = {
  testName: 'POTASSIUM',
  value: '6.2',
  units: 'mmol/L',
  referenceRange: '3.5-5.1',
  abnormalFlag: 'H',
  status: 'P',
  collected: '2024-07-01 06:15:00',
  resulted: '2024-07-01 07:00:00',
};

describe('OBX-11 U', () => {
  it('as the standard sends it (OBX-5 empty): only the status changes; value, units, range, flag, name and collection time stay', () => {
    const [u] = observations({}, { 2: 'NM', 3: '2823-3' });
    expect(u).toEqual({
      kind: 'finalize',
      testCode: '2823-3',
      change: { testName: undefined, printed: undefined, collected: undefined, resulted: '2024-07-02 12:00:00' },
      asFinal: undefined,
    });
    if (u?.kind !== 'finalize') throw new Error('not a U');
    // the result time is when the result became final (OBR-22, OBX-19, else MSH-7), as for F
    expect(finalized(PRELIMINARY, u.change)).toEqual({ ...PRELIMINARY, status: 'F', resulted: '2024-07-02 12:00:00' });
  });

  it('takes what it does carry: a name, the collection and report times of its OBR', () => {
    const [u] = observations({ 7: '20240701061000', 22: '20240702113000' }, { 2: 'NM', 3: '2823-3^K SERUM^LN' });
    if (u?.kind !== 'finalize') throw new Error('not a U');
    expect(finalized(PRELIMINARY, u.change)).toEqual({
      ...PRELIMINARY,
      testName: 'K SERUM',
      status: 'F',
      collected: '2024-07-01 06:10:00',
      resulted: '2024-07-02 11:30:00',
    });
  });

  it('a U that sends the value again is that final result: value, units, range and flag all from it, never a new value beside the old flag', () => {
    const [u] = observations({}, { 2: 'NM', 3: '2823-3', 5: '4.9', 6: 'mmol/L' });
    if (u?.kind !== 'finalize') throw new Error('not a U');
    expect(finalized(PRELIMINARY, u.change)).toEqual({ ...PRELIMINARY, value: '4.9', referenceRange: null, abnormalFlag: null, status: 'F', resulted: '2024-07-02 12:00:00' });
    // for a result never sent as preliminary it is stored as the final result it carries (the collection time falls back to MSH-7, as for F)
    expect(u.asFinal).toEqual({
      testName: '2823-3',
      value: '4.9',
      units: 'mmol/L',
      referenceRange: null,
      abnormalFlag: null,
      status: 'F',
      collected: '2024-07-02 12:00:00',
      resulted: '2024-07-02 12:00:00',
    });
  });

  it('`""` in OBX-5 is no value (HL7 null): a status change like an empty one', () => {
    const [u] = observations({}, { 2: 'ST', 3: '600-7', 5: '""' });
    expect(u).toMatchObject({ kind: 'finalize', change: { printed: undefined }, asFinal: undefined });
  });

  it('naming no result held, an empty U is refused as an unknown key (204), at its test code', () => {
    expect(noResultToFinalize(3).reason).toBe('HL7 204 at OBX^3^3^1^1: OBX-11 is U (make final the result sent before) but the order has no result of this OBX-3 test');
  });
});
