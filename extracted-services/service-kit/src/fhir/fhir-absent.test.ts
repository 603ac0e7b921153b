import { describe, expect, it } from 'vitest';
import { DATA_ABSENT_REASON_URL, fhirDateElement, fhirDateTimeElement } from './fhir-absent.js';

const absent = (valueCode: string) => ({ extension: [{ url: DATA_ABSENT_REASON_URL, valueCode }] });

describe('legacy dates FHIR cannot hold', () => {
  it('keeps a FHIR date or dateTime as it is, and writes nothing for null', () => {
    expect(fhirDateElement('birthDate', '1980-02-29')).toEqual({ birthDate: '1980-02-29' });
    expect(fhirDateElement('birthDate', '0001-01-01')).toEqual({ birthDate: '0001-01-01' });
    expect(fhirDateTimeElement('end', '2024-07-01T10:30:00+02:00')).toEqual({ end: '2024-07-01T10:30:00+02:00' });
    expect(fhirDateTimeElement('end', null)).toEqual({});
  });

  it('leaves out a year BC or after 9999 as unsupported, and infinity as unknown', () => {
    expect(fhirDateElement('birthDate', '0044-03-15 BC')).toEqual({ _birthDate: absent('unsupported') });
    expect(fhirDateElement('birthDate', '10000-01-01')).toEqual({ _birthDate: absent('unsupported') });
    expect(fhirDateTimeElement('start', '0044-03-15 12:00:00 BC')).toEqual({ _start: absent('unsupported') });
    expect(fhirDateTimeElement('end', '10000-01-01 10:00:00')).toEqual({ _end: absent('unsupported') });
    expect(fhirDateTimeElement('end', 'infinity')).toEqual({ _end: absent('unknown') });
    expect(fhirDateTimeElement('start', '-infinity')).toEqual({ _start: absent('unknown') });
  });
});
