import { describe, expect, it } from 'vitest';
import type { RuleSet } from '@ficus/contracts';
import { holderIn, parseRecordRules } from './record-holder.js';

const rules = (mode: string, hl7Mode = 'legacy'): RuleSet =>
  ({
    upstreams: {},
    http: [{ id: 'patients-write', match: { methods: ['PUT'], path: '/api/patients/*' }, mode, target: 'patient-service' }],
    hl7: [{ id: 'lab-results', match: { messageTypes: ['ORU'] }, mode: hl7Mode, target: 'results-service' }],
  }) as unknown as RuleSet;

describe('who the legacy writer finds holds a service\'s record', () => {
  it('the service while its record rule is new or retired, as the services read it; else the legacy', () => {
    expect(holderIn(rules('new'), 'patients-write')).toBe('service');
    expect(holderIn(rules('retired'), 'patients-write')).toBe('service');
    expect(holderIn(rules('legacy'), 'patients-write')).toBe('legacy');
    expect(holderIn(rules('canary'), 'patients-write')).toBe('legacy');
    expect(holderIn(rules('legacy', 'new'), 'lab-results')).toBe('service');
    expect(holderIn(rules('new'), 'no-such-rule')).toBe('legacy');
  });
  it('reads CDC_WRITEBACK_RECORD_RULES as service=rule pairs, and refuses anything else', () => {
    expect([...parseRecordRules(' patient-service=patients-write, results-service=legacy ,')]).toEqual([
      ['patient-service', 'patients-write'],
      ['results-service', 'legacy'],
    ]);
    expect(parseRecordRules('').size).toBe(0);
    expect(() => parseRecordRules('patient-service')).toThrow(/not service=rule/);
    expect(() => parseRecordRules('a=b=c')).toThrow(/not service=rule/);
  });
});
