import { describe, expect, it } from 'vitest';
import { FhirDecimal, fhirJson } from './fhir-decimal.js';
import { isCalendarDate, isTimeOfDay } from './fhir-time.js';

describe('fhirJson', () => {
  it('writes a decimal with its own digits, as valid JSON', () => {
    const body = { a: FhirDecimal.parse('4.0'), b: [FhirDecimal.parse('1.00'), FhirDecimal.parse('-0.50')], c: 'text', d: FhirDecimal.parse('12345678901234567890.1') };
    const json = fhirJson(body);
    expect(json).toBe('{"a":4.0,"b":[1.00,-0.50],"c":"text","d":12345678901234567890.1}');
    expect(JSON.parse(json)).toMatchObject({ a: 4, b: [1, -0.5], c: 'text' });
    expect(FhirDecimal.parse('00.10')?.text).toBe('0.10');
    expect(FhirDecimal.parse('1e3')).toBeUndefined();
    expect(FhirDecimal.parse('.5')).toBeUndefined();
  });

  it('leaves strings that merely look like its marker alone', () => {
    expect(JSON.parse(fhirJson({ s: 'fhir-decimal:4.0' }))).toEqual({ s: 'fhir-decimal:4.0' });
  });
});

describe('dates of the calendar', () => {
  it('refuses days PostgreSQL refuses', () => {
    for (const d of ['1980-02-29', '2000-02-29', '2024-12-31', '0001-01-01']) expect(isCalendarDate(d), d).toBe(true);
    for (const d of ['1980-02-30', '1900-02-29', '2024-02-30', '2024-13-01', '2024-04-31', '0000-01-01', '2024-1-01']) expect(isCalendarDate(d), d).toBe(false);
    for (const t of ['T10:30', 'T23:59:59', 'T00:00Z', 'T10:30:00+14:00']) expect(isTimeOfDay(t), t).toBe(true);
    for (const t of ['T24:00', 'T10:60', 'T10:30:61', 'T10:30+15:00', 'T10:30+02:60']) expect(isTimeOfDay(t), t).toBe(false);
  });
});
