import { describe, expect, it } from 'vitest';
import { toObservation, type ResultFhirRow } from './observation-resource.js';

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
  ...over,
});
const naming = { orderSystem: 'http://hospital.example.org/fhir/sid/order', localTestSystem: 'http://hospital.example.org/fhir/CodeSystem/test' };

describe('toObservation', () => {
  it('gives a legacy value of blanks no valueString (FHIR strings may not be whitespace only), and trims a padded one', () => {
    const blank = toObservation(row({ value: '   ' }), naming);
    expect(blank).not.toHaveProperty('valueString');
    expect(blank).not.toHaveProperty('valueQuantity');
    expect(toObservation(row({ value: ' HEMOLYSED  ' }), naming)).toMatchObject({ valueString: 'HEMOLYSED' });
    expect(toObservation(row({ value: ' 5.5 ', units: 'mmol/L' }), naming)).toMatchObject({ valueQuantity: { value: 5.5 } });
  });
});
