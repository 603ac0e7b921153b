/**
 * HL7's rule for an update, field by field, on every PID field patient-service maps: an empty
 * field changes nothing, `""` deletes the whole field, a field sent replaces the whole field.
 * The database side (row, outbox, FHIR, the legacy by write-back) is in
 * extracted-services/test/adt-update-fields.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, type Hl7Message } from '@ficus/hl7-protocol';
import { fieldSent } from './sent-fields.js';
import { patientRegistration, patientUpdate } from './patient-update.js';

function a08(pid: string): Hl7Message {
  const decoded = decodeMessage(Buffer.from(['MSH|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261208111000||ADT^A08^ADT_A01|C1|P|2.5.1', 'EVN|A08', pid, ''].join('\r')));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}

/** a PID of patient 7720010 with these fields (by number) */
const pid = (fields: Record<number, string>) => {
  const all: Record<number, string> = { 1: '1', 3: '7720010^^^GENHOSP^MR', ...fields };
  return ['PID', ...Array.from({ length: Math.max(...Object.keys(all).map(Number)) }, (_, i) => all[i + 1] ?? '')].join('|');
};
const update = (fields: Record<number, string>) => patientUpdate(a08(pid(fields)));

describe('fieldSent', () => {
  it('tells an empty field, the null and a value apart, on the whole field', () => {
    const m = a08(pid({ 5: '""', 8: '""', 11: '""^^^', 13: '~', 14: '""~""', 15: 'A^""', 16: '^^""', 18: 'x&""' }));
    expect([5, 6, 8, 11, 13, 14, 15, 16, 18].map((f) => fieldSent(m, 'PID', 1, f))).toEqual(['null', 'empty', 'null', 'null', 'empty', 'null', 'valued', 'null', 'valued']);
    expect(fieldSent(m, 'PID', 1, 40)).toBe('empty');
    expect(fieldSent(m, 'PV1', 1, 2)).toBe('empty');
  });
});

describe('patientUpdate', () => {
  it('an empty field changes nothing', () => {
    expect(update({})).toEqual({});
    expect(patientUpdate(a08(`${pid({})}${'|'.repeat(27)}`))).toEqual({});
  });

  it('"" in PID-11 deletes the whole address, not only the street', () => {
    expect(update({ 11: '""' })).toEqual({ line1: null, city: null, state: null, zip: null });
    expect(update({ 11: '""^^^^' })).toEqual({ line1: null, city: null, state: null, zip: null });
  });

  it('an address sent replaces the whole address: a component left empty is empty now', () => {
    expect(update({ 11: '10 new st^^boston' })).toEqual({ line1: '10 NEW ST', city: 'BOSTON', state: null, zip: null });
    expect(update({ 11: '10 new st^^boston^ma^021101234' })).toEqual({ line1: '10 NEW ST', city: 'BOSTON', state: 'MA', zip: '02110-1234' });
  });

  it('a name sent replaces the middle name; the family and given names are never deleted', () => {
    expect(update({ 5: 'smith^john' })).toEqual({ lastName: 'SMITH', firstName: 'JOHN', middleName: null });
    expect(update({ 5: 'smith^john^""' })).toEqual({ lastName: 'SMITH', firstName: 'JOHN', middleName: null });
    expect(update({ 5: '""' })).toEqual({ middleName: null });
    expect(update({ 5: '^^ann' })).toEqual({ middleName: 'ANN' });
  });

  it('birth date, sex, phone and marital status: empty keeps, "" deletes (sex: unknown; the birth date stays), a value replaces', () => {
    expect(update({ 7: '""', 8: '""', 13: '""', 16: '""' })).toEqual({ sex: 'U', phone: null, maritalStatus: null });
    expect(update({ 7: '19800102', 8: 'F', 13: '^PRN^PH^^1^617^5550111', 16: 'M' })).toEqual({
      dateOfBirth: '1980-01-02',
      sex: 'F',
      phone: '617-555-0111',
      maritalStatus: 'M',
    });
  });

  it('PID-13: the first repetition holding a number, not an e-mail address; none is no phone', () => {
    expect(update({ 13: '^NET^Internet^a@example.org~(617)555-0100' })).toEqual({ phone: '(617)555-0100' });
    expect(update({ 13: '^NET^Internet^a@example.org' })).toEqual({ phone: null });
    expect(patientRegistration(a08(pid({ 5: 'x^y', 7: '19800101', 13: '^NET^Internet^a@example.org~^PRN^PH^^1^617^5550111' })))).toMatchObject({ phone: '617-555-0111' });
  });

  it('PID-30 Y closes the record', () => {
    expect(update({ 30: 'Y' })).toEqual({ active: false });
  });
});
