import { describe, expect, it } from 'vitest';
import { compareKeptTimes, DATA_ABSENT_REASON_URL, fhirDateElement, fhirDateTimeElement } from './fhir-absent.js';

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

describe('compareKeptTimes', () => {
  it('orders by the instant named: across UTC offsets, years BC and of five or six digits, the infinities first and last', () => {
    // as text, 01:10+00:00 sorts first; it is 40 minutes later
    expect(compareKeptTimes('2024-03-31T01:30:00+01:00', '2024-03-31T01:10:00+00:00')).toBeLessThan(0);
    const ordered = [
      '-infinity',
      '4713-01-01 00:00:00 BC',
      '0100-01-01 00:00:00 BC',
      '0044-03-15 12:00:00 BC',
      '0001-12-31 23:00:00 BC',
      '0001-01-01T00:00:00+00:00',
      '2024-02-29T12:00:00+00:00',
      '2024-03-31T01:30:00+01:00',
      '2024-03-31T01:10:00+00:00',
      '2024-03-31T12:00:00Z',
      '2024-03-30T23:00:00-14:00',
      '9999-12-31T23:59:59+00:00',
      '10000-01-01 00:00:00',
      '10000-01-01 00:00:00.5',
      '99999-01-01 00:00:00',
      '294276-12-31 23:59:59',
      'infinity',
      'not a time',
    ];
    expect([...ordered].reverse().sort(compareKeptTimes)).toEqual(ordered);
    expect([...ordered].sort().sort(compareKeptTimes)).toEqual(ordered);
  });

  it('finds one instant written with other offsets equal', () => {
    expect(compareKeptTimes('2024-03-31T01:10:00+00:00', '2024-03-31T02:10:00+01:00')).toBe(0);
    expect(compareKeptTimes('2024-03-31T01:10:00Z', '2024-03-30T23:10:00-02:00')).toBe(0);
    expect(compareKeptTimes('infinity', 'infinity')).toBe(0);
  });
});
