import { describe, expect, it } from 'vitest';
import { buildAck, decodeMessage, hl7Error, type Hl7Message } from '../src/index.js';
import { loadSamples, sample, SAMPLES_DIR } from './support/samples.js';

const samples = loadSamples();

function decoded(bytes: Buffer): Hl7Message {
  const r = decodeMessage(bytes);
  if (!r.ok) throw new Error(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.message;
}

/** MSH fields by a plain split of the first line: an independent reading to compare with. */
function naiveMsh(bytes: Buffer): string[] {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const line = text.split(/\r\n|\r|\n/)[0] as string;
  return ['MSH', ...line.split('|')]; // index n is MSH-n: [1] is 'MSH' standing for MSH-1
}

describe(`the sample messages in ${SAMPLES_DIR}`, () => {
  it('are there', () => {
    expect(samples.length).toBeGreaterThanOrEqual(60);
  });

  it.each(samples)('$name decodes, its header matches the raw MSH, and its ACK parses back', ({ bytes }) => {
    const m = decoded(bytes);
    const msh = naiveMsh(bytes);
    const component = (n: number, c: number) => (msh[n] ?? '').split('^')[c - 1] ?? '';
    expect(m.header.sendingApplication.namespaceId).toBe(component(3, 1));
    expect(m.header.sendingFacility.namespaceId).toBe(component(4, 1));
    expect(m.header.receivingApplication.namespaceId).toBe(component(5, 1));
    expect(m.header.receivingFacility.namespaceId).toBe(component(6, 1));
    expect(m.header.dateTime).toBe(component(7, 1));
    expect(m.header.messageType).toBe(component(9, 1));
    expect(m.header.triggerEvent).toBe(component(9, 2));
    expect(m.header.messageStructure).toBe(component(9, 3));
    expect(m.header.controlId).toBe(msh[10]);
    expect(m.header.processingId).toBe(component(11, 1));
    expect(m.header.version).toBe(component(12, 1));
    expect(m.header.acceptAckType).toBe((msh[15] ?? '').trim());
    expect(m.header.applicationAckType).toBe((msh[16] ?? '').trim());
    expect(m.text).not.toMatch(/\n/);
    expect(m.text.endsWith('\r')).toBe(true);
    expect(m.segmentIds[0]).toBe('MSH');

    for (const [code, error] of [
      ['AA', undefined],
      ['AR', hl7Error(207, 'could not be stored', { segment: 'PID', sequence: 1, field: 3 })],
    ] as const) {
      const ack = buildAck(m, code, error === undefined ? {} : { error });
      const a = decoded(Buffer.from(ack.text, 'utf8'));
      expect(a.get('MSA-1')).toBe(code);
      expect(a.get('MSA-2')).toBe(m.header.controlId);
      expect(a.header.messageType).toBe('ACK');
      expect(a.header.triggerEvent).toBe(m.header.triggerEvent);
      expect(a.header.controlId).toBe(ack.controlId);
      expect(a.header.sendingApplication).toEqual(m.header.receivingApplication);
      expect(a.header.sendingFacility).toEqual(m.header.receivingFacility);
      expect(a.header.receivingApplication).toEqual(m.header.sendingApplication);
      expect(a.header.receivingFacility).toEqual(m.header.sendingFacility);
      expect(a.header.processingId).toBe(m.header.processingId);
      expect(a.header.version).toBe(m.header.version);
      expect(a.header.characterSet).toBe(m.header.characterSet);
      expect(a.count('ERR')).toBe(error === undefined ? 0 : 1);
    }
  });

  it('ADT-A01-01: exact header and patient values', () => {
    const m = decoded(sample('ADT-A01-01.hl7'));
    expect(m.header).toEqual({
      sendingApplication: { namespaceId: 'ADTApp', universalId: '', universalIdType: '' },
      sendingFacility: { namespaceId: 'GHHSFacility', universalId: '2.16.840.1.122848.1.30', universalIdType: 'ISO' },
      receivingApplication: { namespaceId: 'EHRApp', universalId: '1.Edu', universalIdType: 'ISO' },
      receivingFacility: { namespaceId: 'GHHRFacility', universalId: '2.16.840.1.1122848.1.32', universalIdType: 'ISO' },
      dateTime: '198908181126+0215',
      messageType: 'ADT',
      triggerEvent: 'A01',
      messageStructure: 'ADT_A01',
      controlId: 'MSG00001',
      processingId: 'P',
      processingMode: '',
      version: '2.8',
      acceptAckType: '',
      applicationAckType: '',
      characterSet: '',
    });
    expect(m.patientId).toEqual({
      id: 'PATID1234',
      assigningAuthority: { namespaceId: 'test1', universalId: '2.16.1', universalIdType: 'HCD' },
      identifierTypeCode: 'MR',
    });
    expect(m.charset).toBe('UNICODE UTF-8');
    // the second PID-3 repetition, and a subcomponent of PID-5
    expect(m.repetitionCount('PID-3')).toBe(2);
    expect(m.get('PID-3(2).1')).toBe('123456789');
    expect(m.get('PID-3(2).5')).toBe('SS');
    expect(m.get('PID-5.1.5')).toBe('Aniston');
    expect(m.get({ segment: 'PID', field: 5, repetition: 2, component: 1, subcomponent: 1 })).toBe('Josh');
    // segments that occur twice
    expect(m.count('ROL')).toBe(3);
    expect(m.get('ARV[2]-2')).toBe('X');
  });

  it('ADT01-23 (UTF-8 byte order mark, v2.3): header, PID-3, and a trailing space kept', () => {
    const bytes = sample('ADT01-23.hl7');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const m = decoded(bytes);
    expect(m.header.sendingApplication.namespaceId).toBe('AccMgr');
    expect(m.header.sendingFacility.namespaceId).toBe('1');
    expect(m.header.controlId).toBe('599102');
    expect([m.header.messageType, m.header.triggerEvent, m.header.messageStructure]).toEqual(['ADT', 'A01', '']);
    expect(m.header.version).toBe('2.3');
    expect(m.patientId).toEqual({
      id: '10006579',
      assigningAuthority: { namespaceId: '1', universalId: '', universalIdType: '' },
      identifierTypeCode: 'MR',
    });
    expect(m.text.startsWith('MSH|')).toBe(true);
    // PID-30 is "NO " in the file; node-hl7-client alone trims it to "NO"
    expect(m.get('PID-30')).toBe('NO ');
    // v2.3 has no message structure component: the ACK's MSH-9 is ACK^A01
    const ack = buildAck(m, 'AA');
    expect(ack.text.split('\r')[0]?.split('|')[8]).toBe('ACK^A01');
  });

  it('OUL-R22-01 (MSH-18 UNICODE UTF-8, enhanced mode NE/AL)', () => {
    const m = decoded(sample('OUL-R22-01.hl7'));
    expect(m.header.characterSet).toBe('UNICODE UTF-8');
    expect(m.charset).toBe('UNICODE UTF-8');
    expect([m.header.acceptAckType, m.header.applicationAckType]).toEqual(['NE', 'AL']);
    expect(m.header.controlId).toBe('1932');
    expect(buildAck(m, 'CA').text).toContain('|UNICODE UTF-8\r');
  });

  it('ADT-A40-01: MRG-1 (the merged id) is readable like any field', () => {
    const m = decoded(sample('ADT-A40-01.hl7'));
    expect(m.header.controlId).toBe('8919-40');
    expect(m.patientId?.id).toBe('12345');
    expect(m.get('MRG-1.1')).toBe('56789');
    expect(m.get('MRG-1.4')).toBe('BCBS');
    expect(m.get('MRG-1.5')).toBe('MR');
  });

  it('ORU-R01-01: an assigning authority written as HD subcomponents', () => {
    const m = decoded(sample('ORU-R01-01.hl7'));
    expect(m.header.version).toBe('2.5.1');
    expect(m.header.processingId).toBe('T');
    expect(m.header.sendingApplication).toEqual({
      namespaceId: 'IA PHIMS Stage',
      universalId: '2.16.840.1.114222.4.3.3.5.1.2',
      universalIdType: 'ISO',
    });
    expect(m.patientId).toEqual({
      id: '14',
      assigningAuthority: { namespaceId: 'IA PHIMS Stage', universalId: '2.16.840.1.114222.4.3.3.5.1.2', universalIdType: 'ISO' },
      identifierTypeCode: 'PI',
    });
  });
});
