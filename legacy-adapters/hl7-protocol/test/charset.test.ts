import { describe, expect, it } from 'vitest';
import { decodeMessage, decodeMessageText, encodeMessageBytes, lookupCharset } from '../src/index.js';

describe('encodeMessageBytes', () => {
  it('writes UTF-8 by default and when MSH-18 is empty', () => {
    expect(encodeMessageBytes('MSH|é')).toEqual(Buffer.from('MSH|é', 'utf8'));
    expect(encodeMessageBytes('é', '')).toEqual(Buffer.from([0xc3, 0xa9]));
    expect(encodeMessageBytes('é', 'UNICODE UTF-8')).toEqual(Buffer.from([0xc3, 0xa9]));
  });

  it('writes Latin-1 for 8859/1, one byte per character', () => {
    expect(encodeMessageBytes('Müller ÿ', '8859/1')).toEqual(Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72, 0x20, 0xff]));
  });

  it('refuses a character the charset cannot hold instead of writing a wrong byte', () => {
    expect(() => encodeMessageBytes('€', '8859/1')).toThrow(/U\+20AC cannot be encoded in 8859\/1/);
    expect(() => encodeMessageBytes('ä', '8859/5')).toThrow(RangeError);
  });

  it('refuses a charset it cannot write', () => {
    expect(() => encodeMessageBytes('x', 'BIG-5')).toThrow(RangeError);
    expect(() => encodeMessageBytes('x', 'EBCDIC')).toThrow(RangeError);
  });

  it.each(['ASCII', '8859/1', '8859/2', '8859/3', '8859/4', '8859/5', '8859/6', '8859/7', '8859/8', '8859/9', '8859/15', 'UNICODE', 'UNICODE UTF-8'])(
    '%s: decoding is the inverse of encoding for every character the charset holds',
    (name) => {
      const found = lookupCharset(name);
      expect(found.ok).toBe(true);
      if (!found.ok) return;
      const single = name !== 'UNICODE' && name !== 'UNICODE UTF-8';
      // every byte that the charset defines (single-byte sets), or a sample of Unicode text
      const bytes = single
        ? Buffer.from(Array.from({ length: 256 }, (_, b) => b).filter((b) => b !== 0x0b && b !== 0x1c && lookupOk(name, b)))
        : Buffer.from('Grüße, Ζεύς, Москва, 東京, 😀', 'utf8');
      const text = found.charset.decode(bytes);
      expect(encodeMessageBytes(text, name)).toEqual(bytes);
      // and through a whole message
      const message = Buffer.concat([Buffer.from(`MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5||||||${name}\rNTE|1||`), escapeFree(bytes), Buffer.from('\r')]);
      const r = decodeMessage(message);
      expect(r.ok).toBe(true);
      if (r.ok) expect(encodeMessageBytes(r.message.text, r.message.charset)).toEqual(message);
    },
  );
});

function lookupOk(name: string, byte: number): boolean {
  const found = lookupCharset(name);
  if (!found.ok) return false;
  try {
    found.charset.decode(Uint8Array.of(byte));
    return true;
  } catch {
    return false;
  }
}

/** Bytes that would change the message's structure (separators, escape, line ends) left out. */
function escapeFree(bytes: Buffer): Buffer {
  return Buffer.from([...bytes].filter((b) => !'|^~\\&\r\n'.includes(String.fromCharCode(b)) && b >= 0x20));
}

describe('hex escapes (\\Xhh..\\) are bytes of the message\'s charset', () => {
  const MSH = 'MSH|^~\\&|A|B|C|D|2024||ADT^A01^ADT_A01|C1|P|2.5';
  const decoded = (charset: string, name: string) => {
    const r = decodeMessage(Buffer.from(`${MSH}||||||${charset}\rPID|1||7700001^^^GENHOSP^MR||${name}^ANN\rNTE|1||${name}\r`, 'latin1'));
    return r.ok ? { family: r.message.get('PID-5.1'), note: r.message.get('NTE-3') } : r.error;
  };

  it('UTF-8: \\XC39C\\ is Ü, whether written as one sequence or one per byte (they were read as the characters Ã and U+009C)', () => {
    expect(decoded('UNICODE UTF-8', 'M\\XC39C\\LLER')).toEqual({ family: 'MÜLLER', note: 'MÜLLER' });
    expect(decoded('', 'M\\XC3\\\\X9C\\LLER')).toEqual({ family: 'MÜLLER', note: 'MÜLLER' });
    expect(decoded('UNICODE UTF-8', '\\XF0A0AEB7\\')).toEqual({ family: '𠮷', note: '𠮷' });
  });

  it('single-byte charsets read each byte as that charset does; structure characters and line breaks stay data', () => {
    expect(decoded('8859/1', 'M\\XDC\\LLER')).toEqual({ family: 'MÜLLER', note: 'MÜLLER' });
    expect(decoded('8859/15', '5 \\XA4\\')).toEqual({ family: '5 €', note: '5 €' });
    expect(decoded('UNICODE UTF-8', 'A\\X7C5E265C7E\\B')).toEqual({ family: 'A|^&\\~B', note: 'A|^&\\~B' });
    expect(decoded('UNICODE UTF-8', 'A\\X0D0A\\B')).toEqual({ family: 'A\r\nB', note: 'A\r\nB' });
  });

  it('bytes that are not valid in the charset are refused where they are, as raw bytes are (102), never read as other characters', () => {
    expect(decoded('UNICODE UTF-8', 'M\\XDC\\LLER')).toMatchObject({ code: 102, location: { segment: 'PID', sequence: 1, field: 5 } });
    expect(decoded('', 'M\\XC3\\LLER')).toMatchObject({ code: 102, message: expect.stringMatching(/PID-5 .*not valid UNICODE UTF-8/) });
  });

  it('the message text keeps the sequences as sent; decodeMessageText reads them in the charset it is given', () => {
    const r = decodeMessageText(`${MSH}\rNTE|1||M\\XDC\\LLER\r`, '8859/1');
    expect(r.ok && [r.message.get('NTE-3'), r.message.text.includes('M\\XDC\\LLER')]).toEqual(['MÜLLER', true]);
  });
});
