import { describe, expect, it } from 'vitest';
import { legacyOrderOf, parseReportId, reportId } from './report-id.js';

describe('DiagnosticReport ids', () => {
  it('name patient and order, and read back to both', () => {
    expect(reportId('100030', 'DUPORD1')).toBe('100030-DUPORD1');
    expect(reportId('100031', 'DUPORD1')).toBe('100031-DUPORD1');
    expect(parseReportId('100030-ORD-7.1')).toEqual({ mrn: '100030', order: 'ORD-7.1' });
  });

  it('hash an order that is no FHIR id (or too long) with the MRN in clear, and an MRN that is not digits with the order', () => {
    const odd = reportId('100030', 'ORD 1/2');
    expect(odd).toMatch(/^h-100030-[0-9a-f]{32}$/);
    expect(parseReportId(odd)).toEqual({ mrn: '100030', orderHash: odd.slice(9) });
    expect(reportId('100030', 'L'.repeat(60))).toMatch(/^h-100030-[0-9a-f]{32}$/);
    expect(reportId('MRN-1', 'ORD1')).toMatch(/^h-[0-9a-f]{40}$/);
    for (const id of [odd, reportId('100030', 'L'.repeat(60)), reportId('MRN-1', 'ORD1'), reportId('1', 'A')]) expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(reportId('100030', 'ORD 1/2')).not.toBe(reportId('100031', 'ORD 1/2'));
  });

  it('read an old id (the order alone) as the order number it named', () => {
    expect(parseReportId('L75000001')).toBeUndefined();
    expect(legacyOrderOf('L75000001')).toBe('L75000001');
    expect(legacyOrderOf(`x-${Buffer.from('ORD 1/2').toString('hex')}`)).toBe('ORD 1/2');
  });
});
