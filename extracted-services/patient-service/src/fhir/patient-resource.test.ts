import { describe, expect, it } from 'vitest';
import { toFhirPatient, type PatientFhirRow } from './patient-resource.js';

const row = (over: Partial<PatientFhirRow>): PatientFhirRow => ({
  mrn: '100001',
  family_name: 'PEREZ',
  given_name: 'NICOLE',
  middle_name: null,
  birth_date: '2017-05-04',
  sex: 'F',
  address_line: null,
  city: null,
  state: null,
  postal_code: null,
  phone: null,
  marital_status: null,
  active: true,
  last_updated: '2026-12-06T12:00:00Z',
  identifiers: [],
  replaced_by: null,
  replaces: [],
  ...over,
});
const naming = { mrnSystem: 'http://hospital.example.org/fhir/sid/mrn' };

describe('toFhirPatient', () => {
  it('leaves out name parts the legacy left empty (FHIR strings may not be empty)', () => {
    expect(toFhirPatient(row({ family_name: '' }), naming).name).toEqual([{ use: 'official', given: ['NICOLE'] }]);
    expect(toFhirPatient(row({ given_name: '', middle_name: 'Q' }), naming).name).toEqual([{ use: 'official', family: 'PEREZ', given: ['Q'] }]);
    expect(toFhirPatient(row({ family_name: '', given_name: '' }), naming).name).toEqual([{ use: 'official' }]);
  });

  it('trims padded legacy values (a CHAR(2) state) and leaves out blank ones', () => {
    const p = toFhirPatient(row({ state: 'I ', city: '   ', address_line: ' 12 HARBOUR ROAD', phone: '  ', middle_name: ' ' }), naming);
    expect(p.address).toEqual([{ use: 'home', line: ['12 HARBOUR ROAD'], state: 'I' }]);
    expect(p).not.toHaveProperty('telecom');
    expect(p.name).toEqual([{ use: 'official', family: 'PEREZ', given: ['NICOLE'] }]);
    expect(toFhirPatient(row({ city: ' ', state: '  ' }), naming)).not.toHaveProperty('address');
  });

  it('codes marital status from R4\'s value set: unknown is NullFlavor UNK, not a marital status code', () => {
    expect(toFhirPatient(row({ marital_status: 'U' }), naming).maritalStatus).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' }] });
    expect(toFhirPatient(row({ marital_status: 'A' }), naming).maritalStatus).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'L', display: 'Legally Separated' }] });
  });
});
