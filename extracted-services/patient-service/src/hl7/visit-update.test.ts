/**
 * HL7's rule for an update, field by field, on every PV1 field patient-service maps into a stay
 * it holds. The database side is in extracted-services/test/adt-update-fields.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, type AdmissionType, type Hl7Message } from '@ficus/hl7-protocol';
import { classAfter, stayChanges, stayUpdate } from './visit-update.js';

function withPv1(pv1: string): Hl7Message {
  const decoded = decodeMessage(Buffer.from(['MSH|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261208111000||ADT^A08^ADT_A01|C1|P|2.5.1', 'EVN|A08', 'PID|1||7720010^^^GENHOSP^MR', pv1, ''].join('\r')));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}
/** a PV1 with these fields (by number) */
const pv1 = (fields: Record<number, string>) => ['PV1', ...Array.from({ length: Math.max(1, ...Object.keys(fields).map(Number)) }, (_, i) => fields[i + 1] ?? '')].join('|');
const changes = (stored: AdmissionType, pv1: string) => stayChanges(stored, stayUpdate(withPv1(pv1)));
const cls = (stored: AdmissionType, pc: string, at: string) => classAfter(stored, stayUpdate(withPv1(`PV1|1|${pc}||${at}`)));

describe('the class of a stay after an update (PV1-2 with PV1-4)', () => {
  it('PV1-2 I without PV1-4 keeps an emergency admission (the probe: A01 I/E, then A08 I with PV1-4 empty)', () => {
    expect(changes('E', 'PV1|1|I|MED2^01^1A||||D2001^SMITH^JOHN||||||||||||V7720010')).toEqual([
      { field: 'pointOfCare', value: 'MED2' },
      { field: 'bed', value: '1A' },
      { field: 'doctor', value: 'D2001' },
    ]);
    expect(cls('E', 'I', '')).toBe('E');
  });

  it('what is sent decides: both fields, the class alone, PV1-4 "" (no admission type any more)', () => {
    expect([cls('E', 'I', 'R'), cls('E', 'I', '""'), cls('I', 'I', 'E'), cls('I', 'I', 'A'), cls('O', 'I', ''), cls('I', 'E', ''), cls('I', 'O', 'E'), cls('E', 'D', '')]).toEqual(['I', 'I', 'E', 'E', 'I', 'E', 'O', 'D']);
  });

  it('PV1-2 empty, "" or without a code keeps the class; PV1-4 emergency alone makes an inpatient stay an emergency one', () => {
    expect([cls('E', '', ''), cls('O', '""', ''), cls('I', 'N', ''), cls('I', '', 'E'), cls('O', '', 'E'), cls('E', '', 'R'), cls('E', '', '""')]).toEqual(['E', 'O', 'I', 'E', 'O', 'E', 'E']);
  });
});

describe('location, attending doctor and admit time', () => {
  it('empty fields change nothing', () => {
    expect(changes('I', pv1({ 1: '1', 19: 'V1' }))).toEqual([]);
    expect(changes('I', 'PV1')).toEqual([]);
  });

  it('PV1-3 sent replaces ward and bed: no bed given is no bed; "" deletes the bed and keeps the ward (a stay is never without one)', () => {
    expect(changes('I', 'PV1|1||MED1')).toEqual([
      { field: 'pointOfCare', value: 'MED1' },
      { field: 'bed', value: null },
    ]);
    expect(changes('I', 'PV1|1||""')).toEqual([{ field: 'bed', value: null }]);
    expect(changes('I', 'PV1|1||^^3b')).toEqual([{ field: 'bed', value: '3B' }]);
  });

  it('PV1-7 "" or without an id deletes the attending doctor; PV1-44 "" keeps the admit time', () => {
    expect(changes('I', 'PV1|1||||||""')).toEqual([{ field: 'doctor', value: null }]);
    expect(changes('I', 'PV1|1||||||^SMITH^JOHN')).toEqual([{ field: 'doctor', value: null }]);
    expect(changes('I', pv1({ 1: '1', 44: '""' }))).toEqual([]);
    expect(changes('I', pv1({ 1: '1', 44: '202612081055' }))).toEqual([{ field: 'admitted', value: '2026-12-08 10:55:00' }]);
  });
});
