import { describe, expect, it } from 'vitest';
import { fhirJson } from '@ficus/service-kit';
import { toDiagnosticReport, toObservation, type ResultFhirRow } from './observation-resource.js';

const row = (over: Partial<ResultFhirRow>): ResultFhirRow => ({
  id: '501',
  mrn: '100001',
  encounter_id: null,
  order_number: 'ORD1',
  test_code: 'NOTE',
  test_name: 'NOTE',
  value: 'HEMOLYSED',
  units: null,
  reference_range: null,
  abnormal_flag: null,
  status: 'F',
  collected_at: '2026-12-06T08:00:00+00:00',
  resulted_at: null,
  last_updated: '2026-12-06T09:00:00+00:00',
  comments: null,
  ...over,
});
const naming = { orderSystem: 'http://hospital.example.org/fhir/sid/order', localTestSystem: 'http://hospital.example.org/fhir/CodeSystem/test', patientBase: 'http://patients.example.org/fhir' };

describe('toObservation', () => {
  it('gives a legacy value of blanks no valueString (FHIR strings may not be whitespace only), and trims a padded one', () => {
    const blank = toObservation(row({ value: '   ' }), naming);
    expect(blank).not.toHaveProperty('valueString');
    expect(blank).not.toHaveProperty('valueQuantity');
    expect(toObservation(row({ value: ' HEMOLYSED  ' }), naming)).toMatchObject({ valueString: 'HEMOLYSED' });
    expect(JSON.parse(fhirJson(toObservation(row({ value: ' 5.5 ', units: 'mmol/L' }), naming)))).toMatchObject({ valueQuantity: { value: 5.5 } });
  });

  it('keeps the precision the laboratory printed: 4.0 is not 4, 1.00 not 1, a range high of 11.0 not 11', () => {
    const json = (over: Partial<ResultFhirRow>) => fhirJson(toObservation(row(over), naming));
    expect(json({ value: '4.0', units: '10*3/uL', reference_range: '4.5-11.0' })).toContain('"valueQuantity":{"value":4.0,');
    expect(json({ value: '4.0', units: '10*3/uL', reference_range: '4.5-11.0' })).toContain('"high":{"value":11.0,');
    expect(json({ value: '1.00', reference_range: '<=2.50' })).toContain('"valueQuantity":{"value":1.00}');
    expect(json({ value: '1.00', reference_range: '<=2.50' })).toContain('"high":{"value":2.50}');
    expect(json({ value: '>=100', reference_range: '>0.010' })).toContain('"valueQuantity":{"value":100,"comparator":">="}');
    expect(json({ value: '>=100', reference_range: '>0.010' })).toContain('"low":{"value":0.010}');
    // a leading zero is no JSON number: the digits that count are kept
    expect(JSON.parse(json({ value: '007.50' }))).toMatchObject({ valueQuantity: { value: 7.5 } });
    expect(json({ value: '007.50' })).toContain('"value":7.50');
    expect(JSON.parse(json({ value: '4.0 x' }))).toMatchObject({ valueString: '4.0 x' });
  });

  it('references the patient and the stay at patient-service, by absolute URL', () => {
    expect(toObservation(row({ encounter_id: '3' }), naming)).toMatchObject({
      subject: { reference: 'http://patients.example.org/fhir/Patient/100001' },
      encounter: { reference: 'http://patients.example.org/fhir/Encounter/3' },
    });
  });
});

describe('toDiagnosticReport', () => {
  it("is one patient's: its id names patient and order, and results of two patients are refused", () => {
    const a = row({ id: '1', mrn: '100030', order_number: 'DUPORD1' });
    expect(toDiagnosticReport('DUPORD1', [a], naming)).toMatchObject({ id: '100030-DUPORD1', subject: { reference: 'http://patients.example.org/fhir/Patient/100030' } });
    expect(() => toDiagnosticReport('DUPORD1', [a, row({ id: '2', mrn: '100031', order_number: 'DUPORD1' })], naming)).toThrow(/one patient/);
  });

  it('takes the earliest collection and latest result time, a time FHIR cannot hold left out with its reason where it is the one', () => {
    const absent = (valueCode: string) => ({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode }] });
    const usual = row({ id: '1', collected_at: '2026-12-06T08:00:00+00:00', resulted_at: '2026-12-06T09:00:00+00:00' });
    const bc = row({ id: '2', collected_at: '0044-03-15 12:00:00 BC', resulted_at: '2026-12-06T10:00:00+00:00' });
    const far = row({ id: '3', collected_at: '10000-01-01 00:00:00', resulted_at: 'infinity' });
    expect(toDiagnosticReport('ORD1', [usual, far], naming)).toMatchObject({ effectiveDateTime: '2026-12-06T08:00:00+00:00', _issued: absent('unknown') });
    const early = toDiagnosticReport('ORD1', [usual, bc], naming);
    expect(early).toMatchObject({ _effectiveDateTime: absent('unsupported'), issued: '2026-12-06T10:00:00+00:00' });
    expect(early).not.toHaveProperty('effectiveDateTime');
    expect(toObservation(far, naming)).toMatchObject({ _effectiveDateTime: absent('unsupported'), _issued: absent('unknown') });
  });

  it('takes the earliest and latest by the instant, not the text: across UTC offsets, and among times FHIR cannot hold', () => {
    const absent = (valueCode: string) => ({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode }] });
    // 01:10Z and 00:30Z collected; 02:10Z and 02:20Z resulted; 02:20Z and 02:30Z updated: as text each pair sorts the other way
    const a = row({ id: '1', collected_at: '2024-03-31T01:10:00+00:00', resulted_at: '2024-03-31T03:10:00+01:00', last_updated: '2024-03-31T03:20:00+01:00' });
    const b = row({ id: '2', collected_at: '2024-03-31T01:30:00+01:00', resulted_at: '2024-03-31T02:20:00+00:00', last_updated: '2024-03-31T02:30:00+00:00' });
    for (const results of [[a, b], [b, a]]) {
      expect(toDiagnosticReport('ORD1', results, naming)).toMatchObject({
        effectiveDateTime: '2024-03-31T01:30:00+01:00',
        issued: '2024-03-31T02:20:00+00:00',
        meta: { lastUpdated: '2024-03-31T02:30:00+00:00' },
      });
    }
    // -infinity is before 44 BC, infinity after the year 10000, the year 10000 before infinity: whichever comes first
    const bc = row({ id: '3', collected_at: '0044-03-15 12:00:00 BC', resulted_at: '10000-01-01 00:00:00' });
    const never = row({ id: '4', collected_at: '-infinity', resulted_at: 'infinity' });
    const far = row({ id: '5', collected_at: '10000-01-01 00:00:00', resulted_at: null });
    const endless = row({ id: '6', collected_at: 'infinity', resulted_at: null });
    for (const results of [[bc, never], [never, bc]]) {
      expect(toDiagnosticReport('ORD1', results, naming)).toMatchObject({ _effectiveDateTime: absent('unknown'), _issued: absent('unknown') });
    }
    for (const results of [[far, endless], [endless, far]]) expect(toDiagnosticReport('ORD1', results, naming)).toMatchObject({ _effectiveDateTime: absent('unsupported') });
  });
});
