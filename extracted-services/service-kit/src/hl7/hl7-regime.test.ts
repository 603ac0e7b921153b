import { describe, expect, it } from 'vitest';
import { fixedSystemOfRecord } from '../runtime/system-of-record.js';
import { messageRegime } from './hl7-regime.js';

describe('the regime of one HL7 message', () => {
  it('a message only the service got (mode new) is written back and applied as by the system of record, whoever holds the HTTP writes', () => {
    expect(messageRegime({ legacyToo: false }, fixedSystemOfRecord('legacy'))).toEqual({ systemOfRecord: 'service', writeBack: true });
    expect(messageRegime({ legacyToo: false }, fixedSystemOfRecord('service'))).toEqual({ systemOfRecord: 'service', writeBack: true });
  });
  it('a message the legacy got too (mode dual) is never written back, and is an early copy of the legacy\'s, whoever holds the HTTP writes', () => {
    expect(messageRegime({ legacyToo: true }, fixedSystemOfRecord('legacy'))).toEqual({ systemOfRecord: 'legacy', writeBack: false });
    expect(messageRegime({ legacyToo: true }, fixedSystemOfRecord('service'))).toEqual({ systemOfRecord: 'legacy', writeBack: false });
  });
  it('a job that does not say (an older adapter) goes by the service', () => {
    expect(messageRegime({}, fixedSystemOfRecord('legacy'))).toEqual({ systemOfRecord: 'legacy', writeBack: false });
    expect(messageRegime({}, fixedSystemOfRecord('service'))).toEqual({ systemOfRecord: 'service', writeBack: true });
  });
});
