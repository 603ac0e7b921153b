import { describe, expect, it } from 'vitest';
import { buildAck, decodeMessage, hl7Error, readAck } from '../src/index.js';

const MESSAGE = 'MSH|^~\\&|LAB|GENHOSP|HIS|GENHOSP|20240701083000||ORU^R01^ORU_R01|CT\\F\\RL|P|2.5\rPID|1||100001^^^GENHOSP^MR\r';

describe('readAck', () => {
  it('reads what a sender needs from an ACK, as the full decoder does', () => {
    const decoded = decodeMessage(Buffer.from(MESSAGE));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    for (const code of ['AA', 'AE', 'AR', 'CA'] as const) {
      const ack = buildAck(decoded.message, code, code === 'AE' ? { error: hl7Error(204, 'unknown patient|x') } : {});
      const fields = readAck(ack.bytes);
      const full = decodeMessage(ack.bytes);
      expect(full.ok).toBe(true);
      if (!full.ok) continue;
      expect(fields).toEqual({
        code,
        controlId: full.message.get('MSA-2'),
        text: [full.message.get('MSA-3'), full.message.get('ERR-8'), full.message.get('ERR-3.2')].filter(Boolean).join('; '),
        errorCodes: code === 'AE' ? ['204'] : [],
      });
    }
  });

  it("reads an ACK's text in the charset its MSH-18 names, as a message is read (it was read as Latin-1 whatever MSH-18 said)", () => {
    const decoded = decodeMessage(Buffer.from(MESSAGE));
    if (!decoded.ok) throw new Error(decoded.error.message);
    const refusal = hl7Error(204, 'no patient MÜLLER, ZOË with this MRN');
    // UTF-8 named in MSH-18, UTF-8 by default (MSH-18 empty), Latin-1 and Latin-9 named: each reads back as written
    for (const charset of ['UNICODE UTF-8', '', '8859/1', '8859/15']) {
      const subject = { ...decoded.message, header: { ...decoded.message.header, characterSet: charset }, charset: charset || 'UNICODE UTF-8' };
      const ack = buildAck(subject, 'AE', { error: refusal });
      expect(readAck(ack.bytes)?.text, charset).toContain('no patient MÜLLER, ZOË with this MRN');
    }
    // a UTF-8 byte order mark outweighs MSH-18, as it does for a message
    const marked = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5||||||8859/1\rMSA|AE|X|MÜLLER\r')]);
    expect(readAck(marked)?.text).toBe('MÜLLER');
    // bytes not valid in the charset (Latin-1 under an empty MSH-18) are still read, one character a byte
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5\rMSA|AE|X|M\xdcLLER\r', 'latin1'))).toMatchObject({ code: 'AE', controlId: 'X', text: 'MÜLLER' });
  });

  it('reads the error code of every ERR, from ERR-3 (v2.5+) and from ERR-1 (before v2.5), whether to send again depends on it', () => {
    const errors = [hl7Error(207, 'database away'), hl7Error(102, 'bad date')];
    for (const version of ['2.5', '2.3', '2.4']) {
      const decoded = decodeMessage(Buffer.from(MESSAGE.replace('|P|2.5', `|P|${version}`)));
      if (!decoded.ok) throw new Error(decoded.error.message);
      expect(readAck(buildAck(decoded.message, 'AE', { error: errors }).bytes)?.errorCodes).toEqual(['207', '102']);
    }
    // as other receivers write them: ERR-3 with the code alone, an ELD with the code in ERR-1.4, no ERR at all
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5\rMSA|AR|X\rERR|||207\r'))?.errorCodes).toEqual(['207']);
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.3\rMSA|AE|X|bad\rERR|PID^1^3^204&Unknown key identifier\r'))).toMatchObject({ errorCodes: ['204'], text: 'bad; Unknown key identifier' });
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.3\rMSA|AR|X|down\r'))?.errorCodes).toEqual([]);
  });

  it('reads where the first error is, from ERR-2 (v2.5+) and from ERR-1 (before v2.5), so that the sender of the message can be told', () => {
    const error = hl7Error(102, 'PID-3 is not an MRN', { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 });
    for (const version of ['2.5', '2.3']) {
      const decoded = decodeMessage(Buffer.from(MESSAGE.replace('|P|2.5', `|P|${version}`)));
      if (!decoded.ok) throw new Error(decoded.error.message);
      const where = version === '2.5' ? error.location : { segment: 'PID', sequence: 1, field: 3 };
      expect(readAck(buildAck(decoded.message, 'AE', { error }).bytes)?.location).toEqual(where);
    }
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5\rMSA|AE|X\rERR||OBX^2^5|102\r'))?.location).toEqual({ segment: 'OBX', sequence: 2, field: 5 });
    // no place named, or none that reads as one: none
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5\rMSA|AE|X\rERR|||207\r'))).not.toHaveProperty('location');
    expect(readAck(Buffer.from('MSH|^~\\&|A|B|C|D|2024||ACK|1|P|2.5\rMSA|AE|X\rERR||somewhere|207\r'))).not.toHaveProperty('location');
  });

  it('reads nothing from what is not an ACK', () => {
    expect(readAck(Buffer.from(MESSAGE))).toBeUndefined();
    expect(readAck(Buffer.from('hello'))).toBeUndefined();
    expect(readAck(Buffer.from('MSH|^~\\&|A\rMSA|XX|1\r'))).toBeUndefined();
  });
});
