import { describe, expect, it } from 'vitest';
import { askingOriginalMode } from './original-mode.js';

describe('askingOriginalMode', () => {
  it('empties MSH-15 and MSH-16 and keeps every other byte', () => {
    const rest = Buffer.from('PID|1||100001^^^H^MR||MÜLLER^JÖRG\r', 'utf8');
    const message = Buffer.concat([Buffer.from('MSH|^~\\&|A|B|C|D|20260101||ADT^A08|X1|P|2.5|||NE|AL|USA|UNICODE UTF-8\r'), rest]);
    expect(askingOriginalMode(message).toString('utf8')).toBe(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|X1|P|2.5|||||USA|UNICODE UTF-8\r${rest.toString('utf8')}`);
  });

  it('reads the separator the message uses, and a header that ends at MSH-15', () => {
    expect(askingOriginalMode(Buffer.from('MSH#^~\\&#A#B#C#D#1##ADT^A08#X2#P#2.5###ER\rEVN#A08\r')).toString()).toBe('MSH#^~\\&#A#B#C#D#1##ADT^A08#X2#P#2.5###\rEVN#A08\r');
  });

  it('gives back the same buffer when the message asks for original mode already', () => {
    const original = Buffer.from('MSH|^~\\&|A|B|C|D|1||ADT^A08|X3|P|2.5\rPID|1\r');
    expect(askingOriginalMode(original)).toBe(original);
    const empty = Buffer.from('MSH|^~\\&|A|B|C|D|1||ADT^A08|X4|P|2.5|||||USA\r');
    expect(askingOriginalMode(empty)).toBe(empty);
  });

  it('reads MSH to its LF when the segments end in LF, and empties no field of the next segment (a query passed on as sent)', () => {
    // MSH with 12 fields: read to the first CR, MSH-15 and MSH-16 were QRD-3 and QRD-4
    const query = 'MSH|^~\\&|WARDAPP|GENHOSP|HIS|GENHOSP|20261206090000||QRY^A19|Q1|P|2.3\nQRD|20261206090000|R|I|Q1|||1^RD|8300001|DEM\n';
    const sent = Buffer.from(query);
    expect(askingOriginalMode(sent)).toBe(sent);
    const asking = Buffer.from('MSH|^~\\&|A|B|C|D|1||QRY^A19|Q2|P|2.5|||AL|NE\nQRD|1|R|I|Q2\r\n');
    expect(askingOriginalMode(asking).toString()).toBe('MSH|^~\\&|A|B|C|D|1||QRY^A19|Q2|P|2.5||||\nQRD|1|R|I|Q2\r\n');
  });
});
