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
});
