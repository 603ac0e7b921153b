import { describe, expect, it } from 'vitest';
import { decodeMessage, decodeMessageText, type Hl7Error, type Hl7Message, type MessageDecodeResult } from '../src/index.js';
import { hl7 } from './support/samples.js';

const MSH = 'MSH|^~\\&|LAB|NORTH^1.2.3^ISO|ADT|SOUTH|20240102030405+0100||ORU^R01^ORU_R01|CTRL-1|P|2.5.1';
const PID = 'PID|1||123456^^^HOSP&1.2.840.1&ISO^MR~987^^^SSA^SS||DOE^JANE^Q||19800101|F';

function ok(r: MessageDecodeResult): Hl7Message {
  if (!r.ok) throw new Error(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.message;
}

function err(r: MessageDecodeResult): Hl7Error {
  if (r.ok) throw new Error('decoded, but a failure was expected');
  return r.error;
}

describe('decodeMessage', () => {
  it('reads header fields, PID-3 and any value by path', () => {
    const m = ok(decodeMessage(hl7(MSH, PID, 'OBX|1|ST|A||first', 'OBX|2|ST|B||second~third')));
    expect(m.header.sendingFacility).toEqual({ namespaceId: 'NORTH', universalId: '1.2.3', universalIdType: 'ISO' });
    expect(m.header.controlId).toBe('CTRL-1');
    expect(m.patientId).toEqual({
      id: '123456',
      assigningAuthority: { namespaceId: 'HOSP', universalId: '1.2.840.1', universalIdType: 'ISO' },
      identifierTypeCode: 'MR',
    });
    expect(m.get('OBX[2]-5(2)')).toBe('third');
    expect(m.repetitionCount('OBX[2]-5')).toBe(2);
    expect(m.get('PID-5.2')).toBe('JANE');
    expect(m.get('MSH-1')).toBe('|');
    expect(m.get('MSH-2')).toBe('^~\\&');
    expect(m.segmentIds).toEqual(['MSH', 'PID', 'OBX', 'OBX']);
    expect(m.count('OBX')).toBe(2);
  });

  it('absent parts read as empty, never throw (node-hl7-client throws for a component past the end)', () => {
    const m = ok(decodeMessage(hl7(MSH, PID)));
    expect(m.get('PID-3.9.1')).toBe('');
    expect(m.get('PID-3(5)')).toBe('');
    expect(m.get('PID-99')).toBe('');
    expect(m.get('ZZZ-1')).toBe('');
    expect(m.get('PID[2]-3')).toBe('');
    expect(m.repetitionCount('PID-4')).toBe(0);
    expect(() => m.get('PID.3')).toThrow(RangeError);
    expect(() => m.get({ segment: 'PID', field: 0 })).toThrow(RangeError);
  });

  it('unescapes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ and \\Xhh\\', () => {
    const m = ok(decodeMessage(hl7(MSH, 'NTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\g')));
    expect(m.get('NTE-3')).toBe('a|b^c&d~e\\fAg');
  });

  it('custom delimiters: MSH#$%\\&', () => {
    const text = ['MSH#$%\\&#LAB#NORTH$1.2.3$ISO#ADT#SOUTH#20240102##ADT$A08$ADT_A01#C42#P#2.5', 'PID#1##77$$$H&9&ISO$MR%88##A|B$C\\F\\D'];
    const m = ok(decodeMessage(hl7(...text)));
    expect(m.delimiters).toEqual({ field: '#', component: '$', repetition: '%', escape: '\\', subcomponent: '&', truncation: '' });
    expect(m.header.messageType).toBe('ADT');
    expect(m.header.triggerEvent).toBe('A08');
    expect(m.header.controlId).toBe('C42');
    expect(m.header.processingId).toBe('P');
    expect(m.header.sendingFacility.universalId).toBe('1.2.3');
    expect(m.patientId?.assigningAuthority.universalId).toBe('9');
    expect(m.get('PID-3(2)')).toBe('88');
    // a literal | in a #-message is data, and \F\ is the message's own field separator
    expect(m.get('PID-5.1')).toBe('A|B');
    expect(m.get('PID-5.2')).toBe('C#D');
    expect(m.get('MSH-1')).toBe('#');
  });

  it('LF and CRLF segment endings read the same as CR', () => {
    const segments = [MSH, PID, 'OBX|1|ST|A||v'];
    const expected = ok(decodeMessage(hl7(...segments)));
    for (const ending of ['\n', '\r\n', '\n\r']) {
      const m = ok(decodeMessage(Buffer.from(segments.join(ending) + ending)));
      expect(m.text).toBe(expected.text);
      expect(m.get('OBX-5')).toBe('v');
      expect(m.patientId).toEqual(expected.patientId);
    }
    // blank lines and a missing final terminator change nothing
    expect(ok(decodeMessage(Buffer.from(`\n${MSH}\n\n${PID}\n   \nOBX|1|ST|A||v`))).text).toBe(expected.text);
  });

  it('line breaks, spaces and tabs before MSH are skipped, as interface engines skip them (they were refused "the first segment is not MSH")', () => {
    const segments = [MSH, PID, 'OBX|1|ST|A||v'];
    const expected = ok(decodeMessage(hl7(...segments)));
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const lead of ['\r\n', '\n\n', '\r\r\n', '  ', '\t', ' \r\n\t ']) {
      for (const ending of ['\r', '\n', '\r\n']) {
        for (const mark of [Buffer.alloc(0), bom]) {
          const m = ok(decodeMessage(Buffer.concat([mark, Buffer.from(lead + segments.join(ending) + ending)])));
          expect(m.text, JSON.stringify([lead, ending, mark.length])).toBe(expected.text);
          expect(m.segmentIds).toEqual(['MSH', 'PID', 'OBX']);
          expect(m.header.controlId).toBe('CTRL-1');
        }
      }
    }
    // what is not HL7 stays refused as it was, whatever precedes it
    expect(err(decodeMessage(Buffer.from(`\r\nXYZ|1\r${MSH}\r`))).message).toContain('the first segment is not MSH');
    expect(err(decodeMessage(Buffer.from(' \r\n'))).message).toContain('empty');
  });

  it('a CR or CRLF after LF-ended segments ends none of them (the message was read as one segment, and taken)', () => {
    const segments = [MSH, PID, 'OBX|1|ST|A||v'];
    const expected = ok(decodeMessage(hl7(...segments)));
    for (const tail of ['\r\n', '\r', '\n\r\n', '\r\n\r\n', '\r \r']) {
      const m = ok(decodeMessage(Buffer.from(segments.join('\n') + tail)));
      expect(m.segmentIds, JSON.stringify(tail)).toEqual(['MSH', 'PID', 'OBX']);
      expect(m.text).toBe(expected.text);
      expect(m.patientId?.id).toBe('123456');
    }
    // trailing spaces of the last field are data, as in any other segment
    expect(ok(decodeMessage(Buffer.from(`${MSH}\nOBX|1|ST|A||v  \r\n`))).get('OBX-5')).toBe('v  ');
  });

  it('in a CR-terminated message a lone LF is data, kept inside its field', () => {
    const m = ok(decodeMessage(hl7(MSH, 'OBX|1|TX|A||line one\nline two', 'NTE|1')));
    expect(m.get('OBX-5')).toBe('line one\nline two');
    expect(m.segmentIds).toEqual(['MSH', 'OBX', 'NTE']);
  });

  it('strips a UTF-8 byte order mark', () => {
    const m = ok(decodeMessage(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), hl7(MSH, 'PID|1||1^^^H^MR||MÜLLER^ZOË')])));
    expect(m.header.controlId).toBe('CTRL-1');
    expect(m.get('PID-5.2')).toBe('ZOË');
    expect(m.text.startsWith('MSH|')).toBe(true);
  });

  it('a UTF-8 byte order mark outweighs an MSH-18 that says otherwise', () => {
    const text = `${MSH}||||||8859/1\rPID|1||1||MÜLLER\r`;
    const m = ok(decodeMessage(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])));
    expect(m.get('PID-5')).toBe('MÜLLER');
    expect(m.charset).toBe('UNICODE UTF-8');
    expect(m.header.characterSet).toBe('8859/1');
  });

  it('refuses UTF-16 (byte order mark) clearly, still echoing the control id', () => {
    const r = decodeMessage(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(hl7(MSH).toString(), 'utf16le')]));
    expect(err(r)).toMatchObject({ code: 103, location: { segment: 'MSH', sequence: 1, field: 18 } });
    expect(err(r).message).toMatch(/UTF-16/);
    expect(r.ok ? undefined : r.received.header?.controlId).toBe('CTRL-1');
    // without a byte order mark it is not HL7 at all, and the error says what it looks like
    expect(err(decodeMessage(Buffer.from(hl7(MSH).toString(), 'utf16le'))).message).toMatch(/UTF-16 without a byte order mark/);
  });

  it('MSH-18 8859/1: a byte above 0x7F is read as Latin-1', () => {
    const bytes = Buffer.from(`${MSH}||||||8859/1\rPID|1||1||M\xDCLLER^REN\xC9E\r`, 'latin1');
    expect(bytes.includes(0xdc)).toBe(true);
    const m = ok(decodeMessage(bytes));
    expect(m.get('PID-5.1')).toBe('MÜLLER');
    expect(m.get('PID-5.2')).toBe('RENÉE');
    expect(m.charset).toBe('8859/1');
    expect(m.header.characterSet).toBe('8859/1');
  });

  it('MSH-18 8859/15 reads 0xA4 as the euro sign; ASCII with a stray Latin-1 byte is read as windows-1252', () => {
    expect(ok(decodeMessage(Buffer.from(`${MSH}||||||8859/15\rNTE|1||5 \xA4\r`, 'latin1'))).get('NTE-3')).toBe('5 €');
    expect(ok(decodeMessage(Buffer.from(`${MSH}||||||ASCII\rNTE|1||caf\xE9\r`, 'latin1'))).get('NTE-3')).toBe('café');
  });

  it('common non-table spellings of MSH-18 are understood', () => {
    expect(ok(decodeMessage(Buffer.from(`${MSH}||||||utf-8\rNTE|1||é\r`))).charset).toBe('UNICODE UTF-8');
    expect(ok(decodeMessage(Buffer.from(`${MSH}||||||ISO-8859-1\rNTE|1||\xE9\r`, 'latin1'))).get('NTE-3')).toBe('é');
    // MSH-18 repeats from v2.5: the first repetition is the message's charset
    expect(ok(decodeMessage(Buffer.from(`${MSH}||||||8859/1~UNICODE UTF-8\rNTE|1||\xE9\r`, 'latin1'))).charset).toBe('8859/1');
  });

  it('without MSH-18, bytes are UTF-8 unless the receiver configures another default', () => {
    const latin1 = Buffer.from(`${MSH}\rNTE|1||caf\xE9\r`, 'latin1');
    expect(err(decodeMessage(latin1))).toMatchObject({ code: 102, location: { segment: 'MSH', sequence: 1, field: 18 } });
    expect(ok(decodeMessage(latin1, { defaultCharset: '8859/1' })).get('NTE-3')).toBe('café');
  });

  it('an unknown or unsupported MSH-18 is a table value error at MSH-18, and the control id is still read', () => {
    for (const charset of ['KLINGON', 'UNICODE UTF-16', 'BIG-5']) {
      const r = decodeMessage(Buffer.from(`${MSH}||||||${charset}\r`));
      expect(err(r)).toMatchObject({ code: 103, location: { segment: 'MSH', sequence: 1, field: 18 } });
      expect(r.ok ? undefined : r.received.header?.controlId).toBe('CTRL-1');
    }
  });

  it('a facility code ending in MSH (node-hl7-client would report "Multiple MSH segments")', () => {
    const m = ok(decodeMessage(hl7('MSH|^~\\&|APP|RMSH|REC|FAC|20240101||ADT^A01|C1|P|2.5', 'PV1|1|I|DMSH^101^1|', 'NTE|1||see MSH|x')));
    expect(m.header.sendingFacility.namespaceId).toBe('RMSH');
    expect(m.get('PV1-3.1')).toBe('DMSH');
    expect(m.get('NTE-3')).toBe('see MSH');
    // in a #-message a literal "MSH|" is plain data
    const hash = ok(decodeMessage(hl7('MSH#^~\\&#APP#F#R#F#2024##ADT^A01#C1#P#2.5', 'NTE#1##the MSH|segment, MSH|again')));
    expect(hash.get('NTE-3')).toBe('the MSH|segment, MSH|again');
  });

  it('trailing spaces at the end of a segment are kept (node-hl7-client trims every segment)', () => {
    const m = ok(decodeMessage(hl7(MSH, 'NTE|1||text with trailing spaces   ', 'NTE|2||\t')));
    expect(m.get('NTE-3')).toBe('text with trailing spaces   ');
    expect(m.get('NTE[2]-3')).toBe('\t');
  });

  it('accepts a v2.7 fifth encoding character (truncation)', () => {
    const m = ok(decodeMessage(hl7('MSH|^~\\&#|A|B|C|D|2024||ADT^A01^ADT_A01|C1|P|2.7', 'NTE|1||x#y')));
    expect(m.delimiters.truncation).toBe('#');
    expect(m.get('MSH-3')).toBe('A');
    expect(m.get('NTE-3')).toBe('x#y');
    // \P\ is the truncation character as data (O#NEIL was read, and stored, as O\P\NEIL); without one declared it stays as written
    const escaped = ok(decodeMessage(hl7('MSH|^~\\&#|A|B|C|D|2024||ADT^A01^ADT_A01|C1|P|2.7', 'PID|1||7700001^^^GENHOSP^MR||O\\P\\NEIL', 'NTE|1||x\\P\\y')));
    expect([escaped.get('PID-5.1'), escaped.get('NTE-3')]).toEqual(['O#NEIL', 'x#y']);
    expect(ok(decodeMessage(hl7(MSH, 'NTE|1||x\\P\\y'))).get('NTE-3')).toBe('x\\P\\y');
  });

  it('decodeMessageText takes text that is already decoded', () => {
    const m = ok(decodeMessageText(`${MSH}\r${PID}\r`, '8859/1'));
    expect(m.charset).toBe('8859/1');
    expect(m.header.controlId).toBe('CTRL-1');
  });
});

describe('decode errors carry an HL7 error code and a location', () => {
  const cases: [string, Buffer, Partial<Hl7Error>][] = [
    ['not HL7 at all', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['random bytes', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['an empty frame', Buffer.alloc(0), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['only blank lines', Buffer.from('\r\n\r\n  \n'), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['a first segment that is not MSH', hl7(PID, MSH), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['a batch given as a message', hl7('BHS|^~\\&|A', MSH, 'BTS|1'), { code: 100, location: { segment: 'MSH', sequence: 1 } }],
    ['a second MSH', hl7(MSH, PID, MSH), { code: 100, location: { segment: 'MSH', sequence: 2 } }],
    ['a BTS inside a message', hl7(MSH, 'BTS|1'), { code: 100, location: { segment: 'BTS', sequence: 1 } }],
    ['a segment without a valid id', hl7(MSH, 'pid|1'), { code: 100 }],
    ['a segment id not followed by the field separator', hl7(MSH, 'PIDX|1'), { code: 100 }],
    ['MSH without MSH-2', hl7('MSH|'), { code: 102, location: { segment: 'MSH', sequence: 1, field: 2 } }],
    ['MSH-2 with three characters', hl7('MSH|^~\\|A|B'), { code: 102, location: { segment: 'MSH', sequence: 1, field: 2 } }],
    ['MSH-2 repeating a character', hl7('MSH|^^\\&|A|B'), { code: 102, location: { segment: 'MSH', sequence: 1, field: 2 } }],
    ['a letter as field separator', hl7('MSHX^~\\&XA'), { code: 102, location: { segment: 'MSH', sequence: 1, field: 1 } }],
    ['MSH without MSH-9', hl7('MSH|^~\\&|A|B|C|D|2024|||C1|P|2.5'), { code: 101, location: { segment: 'MSH', sequence: 1, field: 9 } }],
    ['MSH without MSH-10', hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5'), { code: 101, location: { segment: 'MSH', sequence: 1, field: 10 } }],
    ['only MSH-1 and -2', hl7('MSH|^~\\&'), { code: 101, location: { segment: 'MSH', sequence: 1, field: 9 } }],
    ['an unknown processing id', hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|X|2.5'), { code: 202, location: { segment: 'MSH', sequence: 1, field: 11 } }],
    ['a version that is no v2 version', hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|3.0'), { code: 203, location: { segment: 'MSH', sequence: 1, field: 12 } }],
    ['an unknown MSH-15', hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5|||XX'), { code: 103, location: { segment: 'MSH', sequence: 1, field: 15 } }],
    ['an unknown MSH-16', hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5|||AL|YY'), { code: 103, location: { segment: 'MSH', sequence: 1, field: 16 } }],
    ['bytes that are not UTF-8', Buffer.from([...hl7(MSH), ...Buffer.from('NTE|1||\xff\xfe\r', 'latin1')]), { code: 102, location: { segment: 'MSH', sequence: 1, field: 18 } }],
  ];

  it.each(cases)('%s', (_name, bytes, expected) => {
    const e = err(decodeMessage(bytes));
    expect(e).toMatchObject(expected);
    expect(e.message.length).toBeGreaterThan(10);
  });

  it('a NUL character is 102 where it is, raw or as hex data: no text column holds one, and a receiver that took it failed for ever', () => {
    expect(err(decodeMessage(hl7(MSH, 'PID|1||7700001^^^GENHOSP^MR||SM\0ITH')))).toMatchObject({ code: 102, location: { segment: 'PID', sequence: 1, field: 5 } });
    expect(err(decodeMessage(hl7(MSH.replace('CTRL-1', 'CTRL\0-1'))))).toMatchObject({ code: 102, location: { segment: 'MSH', sequence: 1, field: 10 } });
    expect(err(decodeMessage(hl7(MSH, 'NTE|1||a', 'NTE|2||b\\X4100\\c')))).toMatchObject({ code: 102, location: { segment: 'NTE', sequence: 2, field: 3 } });
  });

  it('says what is wrong with the encoding characters, not only how many it counted', () => {
    const message = (bytes: Buffer) => err(decodeMessage(bytes)).message;
    expect(message(hl7('MSH|^^\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5'))).toBe('MSH-2 (encoding characters) uses "^" for two separators; each must be a different character');
    // a # declared in MSH-1 while the fields go on with |: once the whole rest of the segment counted as MSH-2 ("found 88")
    expect(message(hl7('MSH#^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5', 'PID|1'))).toBe(
      'MSH-1 declares "#" as the field separator, but no "#" follows MSH-2 (encoding characters) in the segment: its fields are separated by another character',
    );
    expect(message(hl7('MSH|^~\\|A|B'))).toMatch(/^MSH-2 \(encoding characters\) has only "\^" "~" "\\"; it needs 4 or 5: /);
    expect(message(hl7('MSH|^~\\&XY|A'))).toBe('MSH-2 (encoding characters) has 6 characters before the next field separator "|"; it takes 4 or 5');
    expect(message(hl7('MSH|^~\\\tB|C'))).toMatch(/^MSH-2 \(encoding characters\) holds U\+0009, which cannot be a separator/);
  });

  it('a message the library still cannot read is 207, with our own text', () => {
    // "MSH|" inside an escape sequence is not data, so it is not masked, and the library counts it
    const r = decodeMessage(hl7('MSH#^~\\&#A#B#C#D#2024##ADT^A01#C1#P#2.5', 'NTE#1##\\ZMSH|\\ and \\ZMSH|\\'));
    expect(err(r)).toMatchObject({ code: 207, message: 'the HL7 parser could not read the message' });
    expect(r.ok ? undefined : r.received.header?.controlId).toBe('C1');
  });

  it('the error text is the table 0357 text of the code', () => {
    expect(err(decodeMessage(hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5')))).toMatchObject({ code: 101, text: 'Required field missing' });
  });

  it('a failure after MSH was read still gives the header, delimiters and charset for the answer', () => {
    const r = decodeMessage(hl7('MSH#$%\\&#A#B#C#D#2024##ADT$A01#C77#P#2.4', 'PID#1', 'MSH#x'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.received.delimiters?.field).toBe('#');
    expect(r.received.header?.controlId).toBe('C77');
    expect(r.received.header?.version).toBe('2.4');
    expect(r.received.charset).toBe('UNICODE UTF-8');
  });

  it('error messages never quote field values', () => {
    const r = decodeMessage(hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|SECRET-VERSION'));
    expect(err(r).message).not.toContain('SECRET');
  });
});
