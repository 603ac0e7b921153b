/**
 * What an ADT^A47 (change patient identifier list) means: an MRN corrected (PID-3 the correct,
 * MRG-1 the incorrect), or another identifier changed, which is no key. The receivers' effect is
 * proven by examples/legacy-his/test/hl7-adt-identifier-change.test.ts and
 * extracted-services/test/adt-identifier-change.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, Hl7Refusal, preferMrnAuthorities, readIdentifierChange, type Hl7Message } from '../src/index.js';
import { hl7, sample } from './support/samples.js';

const MSH = 'MSH|^~\\&|MPI|GENHOSP|HIS|GENHOSP|20240701103000||ADT^A47^ADT_A30|C1|P|2.5.1';

function message(...segments: string[]): Hl7Message {
  const decoded = decodeMessage(hl7(...segments));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}
function refusalOf(f: () => unknown): { code: number; location: string } | undefined {
  try {
    f();
  } catch (e) {
    if (!(e instanceof Hl7Refusal)) throw e;
    const l = e.error.location;
    return { code: e.error.code, location: l ? [l.segment, l.sequence, l.field, l.repetition, l.component].filter((x) => x !== undefined).join('^') : '' };
  }
  return undefined;
}

afterEach(() => preferMrnAuthorities([]));

describe('readIdentifierChange', () => {
  it('an MRN corrected: PID-3’s MRN the correct one, MRG-1’s the incorrect', () => {
    expect(readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002^^^GENHOSP^MR', 'MRG|100001^^^GENHOSP^MR'))).toEqual({ kind: 'mrn', correctMrn: '100002', incorrectMrn: '100001' });
    // the repetition typed MR, wherever it stands
    expect(readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||A9^^^GENHOSP^AN~100002^^^GENHOSP^MR', 'MRG|A8^^^GENHOSP^AN~100001^^^GENHOSP^MR'))).toMatchObject({ kind: 'mrn', incorrectMrn: '100001' });
  });

  it('another identifier (typed as another kind, or another facility’s MR): the change of the patient of PID-3’s MRN, with PID-3’s value of that kind', () => {
    expect(readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002^^^GENHOSP^MR~ACC2^^^GENHOSP^AN', 'MRG|ACC1^^^GENHOSP^AN'))).toEqual({
      kind: 'other',
      mrn: '100002',
      changes: [{ authority: 'GENHOSP', type: 'AN', from: 'ACC1', to: 'ACC2' }],
    });
    preferMrnAuthorities(['GENHOSP']);
    expect(readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002^^^GENHOSP^MR', 'MRG|7700001^^^OTHERHOSP^MR'))).toEqual({
      kind: 'other',
      mrn: '100002',
      changes: [{ authority: 'OTHERHOSP', type: 'MR', from: '7700001', to: undefined }],
    });
  });

  it('refuses what names no change: no MRG (101), MRG-1 = PID-3 (102), an MRG-1 MR that is no MRN (102), no PID-3 MRN (101)', () => {
    expect(refusalOf(() => readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002')))).toEqual({ code: 101, location: 'MRG^1' });
    expect(refusalOf(() => readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002', 'MRG|100002')))).toEqual({ code: 102, location: 'MRG^1^1^1^1' });
    expect(refusalOf(() => readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||100002', 'MRG|X1^^^GENHOSP^MR')))).toEqual({ code: 102, location: 'MRG^1^1^1^1' });
    expect(refusalOf(() => readIdentifierChange(message(MSH, 'EVN|A47', 'PID|1||', 'MRG|100001')))).toEqual({ code: 101, location: 'PID^1^3^1^1' });
  });

  it('the public sample ADT-A47-01: identifiers MR101 and MR102 are no MRNs of this hospital (6 to 10 digits)', () => {
    const decoded = decodeMessage(sample('ADT-A47-01.hl7'));
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(refusalOf(() => readIdentifierChange(decoded.message))).toEqual({ code: 102, location: 'MRG^1^1^1^1' });
  });
});
