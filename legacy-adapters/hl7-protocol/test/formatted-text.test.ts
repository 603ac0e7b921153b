/**
 * FT text as a reader sees it (formatted-text.ts), from values as the decoder reads them: the
 * unescaping keeps `\.br\` as written (the legacy's representation, which stays as it is) and
 * drops `\H\ \N\`. Found by a probe: a report read "Line one\.br\Line two" in FHIR.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, readableText, type Hl7Message } from '../src/index.js';

function obx5(value: string, encoding = '^~\\&'): Hl7Message {
  const f = '|';
  const text = [`MSH${f}${encoding}${f}LAB${f}CORE${f}HIS${f}GEN${f}20261208030000${f}${f}ORU^R01${f}C1${f}P${f}2.5.1`, `OBX${f}1${f}FT${f}REP^Report^L${f}${f}${value}`].join('\r');
  const decoded = decodeMessage(Buffer.from(text, 'latin1'));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
}

describe('readableText', () => {
  it('the probe report: \\.br\\ kept by the unescaping reads as a line break, highlighting dropped', () => {
    const stored = obx5('Line one\\.br\\Line two\\.br\\\\H\\Bold\\N\\ done').get('OBX-5');
    expect(stored).toBe('Line one\\.br\\Line two\\.br\\Bold done');
    expect(readableText(stored)).toBe('Line one\nLine two\nBold done');
  });

  it('.sp skips lines (one when not said, at most five), .ce ends the line, indenting and filling are dropped', () => {
    expect(readableText('a\\.sp\\b')).toBe('a\n\nb');
    expect(readableText('a\\.sp 2\\b')).toBe('a\n\n\nb');
    expect(readableText('a\\.sp 5000\\b')).toBe(`a${'\n'.repeat(6)}b`);
    expect(readableText('\\.ce\\TITLE\\.br\\body')).toBe('\nTITLE\nbody');
    expect(readableText('\\.in +4\\\\.ti -2\\\\.fi\\\\.nf\\\\.sk 3\\text')).toBe('text');
  });

  it('leaves text without commands, unknown sequences and an unclosed escape as they are', () => {
    expect(readableText('See note')).toBe('See note');
    expect(readableText('C:\\temp\\.br')).toBe('C:\\temp\\.br');
    expect(readableText('x\\.zz\\y')).toBe('x\\.zz\\y');
    expect(readableText('cut at sixty \\.b')).toBe('cut at sixty \\.b');
  });

  it('reads a message with another escape character by that character', () => {
    const m = obx5('one#.br#two', '^~#&');
    expect(readableText(m.get('OBX-5'), m.delimiters.escape)).toBe('one\ntwo');
  });
});
