import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ficus/contracts';
import { loadAdapterConfig } from '../config.js';
import { answerText, DEFAULT_LEGACY_RETRY_ON, readAnswerText, temporaryAnswers } from './legacy-answers.js';
import { serviceAnswer, serviceAnswerText } from './service-answers.js';

const answer = (code: string, ...errorCodes: string[]) => ({ code, errorCodes });

describe('temporaryAnswers', () => {
  it('by default: 206 and 207 whatever MSA-1 says, and an AR or CR naming no error; a content or support code is a refusal of the message', () => {
    const temporary = temporaryAnswers(DEFAULT_LEGACY_RETRY_ON);
    for (const a of [answer('AE', '207'), answer('AR', '207'), answer('CE', '206'), answer('AR'), answer('CR'), answer('AE', '102', '207')]) expect(temporary(a), JSON.stringify(a)).toBe(true);
    for (const a of [answer('AE'), answer('CE'), answer('AE', '204'), answer('AE', '102'), answer('AR', '201'), answer('AR', '205'), answer('AR', '100'), answer('AR', 'E42')]) {
      expect(temporary(a), JSON.stringify(a)).toBe(false);
    }
  });

  it('reads codes alone, MSA-1 codes alone, both, and none, in any case and spacing; empty makes every refusal final', () => {
    const temporary = temporaryAnswers(' ar , ae:e42,CE:none ');
    expect([answer('AR', '204'), answer('AE', 'E42'), answer('CE')].map(temporary)).toEqual([true, true, true]);
    expect([answer('AE', '207'), answer('CE', '207'), answer('CR')].map(temporary)).toEqual([false, false, false]);
    expect(temporaryAnswers('')(answer('AR'))).toBe(false);
  });

  it('is checked at start: a bad HL7_LEGACY_RETRY_ON stops the adapter with the variable named', () => {
    expect(loadAdapterConfig({}).HL7_LEGACY_RETRY_ON).toBe('206,207,AR:none,CR:none');
    expect(loadAdapterConfig({ HL7_LEGACY_RETRY_ON: '' }).HL7_LEGACY_RETRY_ON).toBe('');
    for (const bad of ['AR:', '207;206', 'XX:207', 'AE:207:1', ',207']) {
      expect(() => loadAdapterConfig({ HL7_LEGACY_RETRY_ON: bad }), bad).toThrow(ConfigError);
      expect(() => loadAdapterConfig({ HL7_LEGACY_RETRY_ON: bad }), bad).toThrow(/HL7_LEGACY_RETRY_ON/);
    }
  });
});

describe('answerText and readAnswerText', () => {
  it('keeps the first error code, so that an application ACK sent later passes it on', () => {
    const text = answerText({ code: 'AE', errorCodes: ['204', '102'], text: 'PID-3: no patient with this MRN; Unknown key identifier' });
    expect(text).toBe('AE: HL7 204: PID-3: no patient with this MRN; Unknown key identifier');
    expect(readAnswerText(text)).toEqual({ code: 'AE', error: 204, why: 'PID-3: no patient with this MRN; Unknown key identifier' });
    expect(answerText({ code: 'AR', errorCodes: [], text: '' })).toBe('AR');
    expect(readAnswerText('AR')).toEqual({ code: 'AR' });
    expect(readAnswerText(answerText({ code: 'AE', errorCodes: ['207'], text: '' }))).toEqual({ code: 'AE', error: 207 });
    // and where legacy said the error is, in a service's reason's form
    const located = answerText({ code: 'AE', errorCodes: ['102'], text: 'PID-3 is not an MRN', location: { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 } });
    expect(located).toBe('AE: HL7 102 at PID^1^3^1^1: PID-3 is not an MRN');
    expect(readAnswerText(located)).toEqual({ code: 'AE', error: 102, location: { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 }, why: 'PID-3 is not an MRN' });
  });

  it('reads answers stored before codes were kept, and codes outside table 0357, as text', () => {
    expect(readAnswerText('AE: unknown ward')).toEqual({ code: 'AE', why: 'unknown ward' });
    expect(readAnswerText('AE: HL7 E42: local reason')).toEqual({ code: 'AE', why: 'HL7 E42: local reason' });
    expect(readAnswerText('AE: HL7 999: odd')).toEqual({ code: 'AE', why: 'HL7 999: odd' });
    expect(readAnswerText('AE: HL7 0: odd')).toEqual({ code: 'AE', why: 'HL7 0: odd' });
  });

  it("reads a service's reason, which names where the error is, as its dead letter gives it", () => {
    const text = serviceAnswerText(serviceAnswer('HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN'));
    expect(text).toBe('AE: HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN');
    expect(readAnswerText(text)).toEqual({ code: 'AE', error: 204, location: { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 }, why: 'PID-3: no patient with this MRN' });
    expect(readAnswerText('AE: HL7 102 at PID^1^7: PID-7 is not a valid HL7 date')).toEqual({ code: 'AE', error: 102, location: { segment: 'PID', sequence: 1, field: 7 }, why: 'PID-7 is not a valid HL7 date' });
    // an unsupported event is a rejection, as legacy answers it; a reason without a code is an error
    expect(serviceAnswerText(serviceAnswer('HL7 201: ORU^R02 is not applied by results-service'))).toBe('AR: HL7 201: ORU^R02 is not applied by results-service');
    expect(readAnswerText(serviceAnswerText(serviceAnswer('not an HL7 job: raw is missing')))).toEqual({ code: 'AE', why: 'not an HL7 job: raw is missing' });
    expect(serviceAnswerText({ code: 'AA' })).toBe('AA');
  });
});
