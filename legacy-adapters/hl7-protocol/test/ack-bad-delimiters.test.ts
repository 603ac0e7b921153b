/**
 * A message whose encoding characters (MSH-2) are unusable is refused, but as long as its field
 * separator can be read, its AR still names it: MSA-2 is the received MSH-10, and sender and
 * receiver are swapped as in any ACK.
 */
import { describe, expect, it } from 'vitest';
import { buildAck, decideAck, decodeMessage, type Hl7Message, type MessageDecodeResult } from '../src/index.js';
import { hl7 } from './support/samples.js';

const fixed = { now: new Date(2024, 0, 2, 3, 4, 5), controlId: () => 'ACK00000000000000001' };

function refused(r: MessageDecodeResult): Extract<MessageDecodeResult, { ok: false }> {
  if (r.ok) throw new Error('expected a decode failure');
  return r;
}

/** The AR for a refused message, decoded again (it is itself a valid message). */
function answer(r: Extract<MessageDecodeResult, { ok: false }>): Hl7Message {
  const code = decideAck(r.received.header ?? {}, 'rejected').code;
  const decoded = decodeMessage(buildAck(r.received, code, { ...fixed, error: r.error }).bytes);
  if (!decoded.ok) throw new Error(`the ACK does not decode: ${decoded.error.message}`);
  return decoded.message;
}

describe('the AR for a message with unusable encoding characters', () => {
  it('MSH-2 with three characters: MSA-2 is MSH-10, MSH-3..6 swapped, MSH-9 and -12 as in any ACK, error 102 at MSH-2', () => {
    const r = refused(decodeMessage(hl7('MSH|^~\\|SND|FAC|RCV|RFAC|20260101120000||ADT^A08|CTRL-3ENC|P|2.5', 'PID|1||100002^^^FAC^MR')));
    expect(r.error).toMatchObject({ code: 102, location: { segment: 'MSH', sequence: 1, field: 2 } });
    const ack = answer(r);
    expect([ack.get('MSA-1'), ack.get('MSA-2')]).toEqual(['AR', 'CTRL-3ENC']);
    expect(['MSH-3', 'MSH-4', 'MSH-5', 'MSH-6'].map((p) => ack.get(p))).toEqual(['RCV', 'RFAC', 'SND', 'FAC']);
    expect(ack.get('MSH-9')).toBe('ACK');
    expect(ack.get('MSH-9.2')).toBe('A08');
    expect(ack.get('MSH-12')).toBe('2.5');
    expect(ack.get('ERR-3.1')).toBe('102');
    expect(ack.get('ERR-2.3')).toBe('2');
  });

  it('MSH-2 repeating a character (^^\\&): components are read by ^, MSA-2 is MSH-10', () => {
    const r = refused(decodeMessage(hl7('MSH|^^\\&|LAB|NORTH^1.2.3^ISO|HIS|SOUTH|20260101120000||ORU^R01^ORU_R01|CTRL-REP|T|2.5.1', 'PID|1||42^^^H^MR')));
    expect(r.error.code).toBe(102);
    const ack = answer(r);
    expect([ack.get('MSA-1'), ack.get('MSA-2')]).toEqual(['AR', 'CTRL-REP']);
    expect(ack.header.receivingFacility).toEqual({ namespaceId: 'NORTH', universalId: '1.2.3', universalIdType: 'ISO' });
    expect(ack.header.sendingApplication.namespaceId).toBe('HIS');
    expect([ack.header.triggerEvent, ack.header.processingId, ack.header.version]).toEqual(['R01', 'T', '2.5.1']);
    expect(ack.get('ERR-3.1')).toBe('102');
  });

  it('an MSH-2 without ^: each field is read whole, and echoed escaped', () => {
    const r = refused(decodeMessage(hl7('MSH|#~\\|SND^X|FAC|RCV|RFAC|2026||ADT^A08|CTRL-NOCOMP|P|2.5')));
    const ack = answer(r);
    expect(ack.get('MSA-2')).toBe('CTRL-NOCOMP');
    expect(ack.get('MSH-5')).toBe('SND^X');
    expect(ack.text.split('\r')[0]).toContain('|SND\\S\\X|');
  });

  it('stays an AR (original mode) even when the unreadable header asks for enhanced mode', () => {
    const r = refused(decodeMessage(hl7('MSH|^~\\|SND|FAC|RCV|RFAC|2026||ADT^A08|CTRL-ENH|P|2.5|||AL|AL')));
    expect(decideAck(r.received.header ?? {}, 'rejected').code).toBe('AR');
    expect(answer(r).get('MSA-2')).toBe('CTRL-ENH');
  });

  it('a field separator that cannot be read: still an AR, MSA-2 empty, the header empty', () => {
    const r = refused(decodeMessage(hl7('MSHX^~\\&XSNDXFACXRCVXRFACX2026XXADT^A08XCTRL-LETTERXPX2.5')));
    expect(r.error).toMatchObject({ code: 102, location: { segment: 'MSH', sequence: 1, field: 1 } });
    expect(r.received.header).toBeUndefined();
    const ack = answer(r);
    expect([ack.get('MSA-1'), ack.get('MSA-2')]).toEqual(['AR', '']);
    expect(['MSH-3', 'MSH-4', 'MSH-5', 'MSH-6'].map((p) => ack.get(p))).toEqual(['', '', '', '']);
    expect(ack.get('ERR-3.1')).toBe('102');
  });
});
