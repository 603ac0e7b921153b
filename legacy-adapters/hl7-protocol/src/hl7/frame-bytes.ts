/**
 * What can be learnt from a frame's bytes before they are decoded to text: its byte order
 * mark, where its lines are, and the character set its MSH-18 declares.
 */

const CR = 0x0d;
const LF = 0x0a;

export type ByteOrderMark = 'utf-8' | 'utf-16le' | 'utf-16be' | 'utf-32le' | 'utf-32be';

export function detectByteOrderMark(bytes: Uint8Array): ByteOrderMark | undefined {
  const [a, b, c, d] = bytes;
  if (a === 0xef && b === 0xbb && c === 0xbf) return 'utf-8';
  if (a === 0xff && b === 0xfe && c === 0 && d === 0) return 'utf-32le';
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return 'utf-32be';
  if (a === 0xff && b === 0xfe) return 'utf-16le';
  if (a === 0xfe && b === 0xff) return 'utf-16be';
  return undefined;
}

export const BOM_LENGTH: Record<ByteOrderMark, number> = {
  'utf-8': 3,
  'utf-16le': 2,
  'utf-16be': 2,
  'utf-32le': 4,
  'utf-32be': 4,
};

/** A line of a frame, as [start, end) byte offsets without its terminator. */
export interface ByteLine {
  readonly start: number;
  readonly end: number;
}

/**
 * Splits bytes into lines the way message text is split into segments (see `splitSegments`):
 * when the bytes hold a CR between their first and last non-blank byte, CR ends a line and an LF
 * next to it belongs to the terminator (CRLF or LFCR) while a lone LF is data; otherwise LF ends
 * a line (a CR before the first line or after the last, a CRLF appended to LF-ended segments,
 * is no terminator of theirs). Blank lines are dropped.
 */
export function splitByteLines(bytes: Uint8Array): ByteLine[] {
  const crStyle = holdsInnerCr(bytes);
  const lines: ByteLine[] = [];
  // without an inner CR, a CR is only in the blank lines before or after the segments: it ends a line too
  let nextCr = crStyle ? -1 : bytes.indexOf(CR);
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(crStyle ? CR : LF, start);
    if (end === -1) end = bytes.length;
    if (nextCr !== -1 && nextCr < start) nextCr = bytes.indexOf(CR, start);
    if (nextCr !== -1 && nextCr < end) end = nextCr;
    let s = start;
    let e = end;
    if (crStyle) {
      if (bytes[s] === LF) s++;
      if (e > s && bytes[e - 1] === LF) e--;
    }
    if (!isBlank(bytes, s, e)) lines.push({ start: s, end: e });
    start = end + 1;
  }
  return lines;
}

/** Whether a CR occurs between the first and the last non-blank byte. */
function holdsInnerCr(bytes: Uint8Array): boolean {
  let first = 0;
  while (first < bytes.length && isBlankByte(bytes[first] as number)) first++;
  let last = bytes.length - 1;
  while (last > first && isBlankByte(bytes[last] as number)) last--;
  const cr = bytes.indexOf(CR, first);
  return cr !== -1 && cr < last;
}

function isBlankByte(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR || b === LF || b === 0x0b || b === 0x0c;
}

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (!isBlankByte(bytes[i] as number)) return false;
  }
  return true;
}

/** What a sender may put before the first segment: CR, LF, space, tab. */
function isLeadingSpace(b: number | undefined): boolean {
  return b === CR || b === LF || b === 0x20 || b === 0x09;
}

/**
 * The frame without the line breaks, spaces and tabs some senders put in front of its first
 * segment (a file feed's blank first line, a CRLF an interface engine or a Windows editor adds),
 * when a header segment (MSH, or FHS/BHS for a batch) follows them; a UTF-8 byte order mark in
 * front of them is kept, as it tells the charset. Any other frame is returned unchanged: what is
 * not HL7 is refused as it came.
 */
export function withoutLeadingWhitespace(frame: Uint8Array): Buffer {
  const buffer = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const bom = detectByteOrderMark(buffer) === 'utf-8' ? BOM_LENGTH['utf-8'] : 0;
  let at = bom;
  while (isLeadingSpace(buffer[at])) at++;
  if (at === bom || !HEADER_IDS.has(buffer.toString('latin1', at, at + 3))) return buffer;
  return bom === 0 ? buffer.subarray(at) : Buffer.concat([buffer.subarray(0, bom), buffer.subarray(at)]);
}

const HEADER_IDS = new Set(['MSH', 'FHS', 'BHS']);

/**
 * MSH-18 (first repetition, first component) read from the raw bytes of an MSH line, where the
 * field separator is byte 3 and the component and repetition separators are bytes 4 and 5.
 * Charset names are ASCII, and every supported charset writes ASCII as single bytes, so this is
 * sound before the charset is known. '' when absent or when the line is no MSH.
 */
export function sniffDeclaredCharset(bytes: Uint8Array, line: ByteLine): string {
  const { start, end } = line;
  if (end - start < 8 || bytes[start] !== 0x4d || bytes[start + 1] !== 0x53 || bytes[start + 2] !== 0x48) return '';
  const field = bytes[start + 3] as number;
  const component = bytes[start + 4] as number;
  const repetition = bytes[start + 5] as number;
  // i is the separator in front of MSH-<fieldNumber>; the one at byte 3 (MSH-1) precedes MSH-2
  let fieldNumber = 2;
  let i = start + 3;
  while (fieldNumber < 18) {
    const next = bytes.indexOf(field, i + 1);
    if (next === -1 || next >= end) return '';
    i = next;
    fieldNumber++;
  }
  let valueEnd = i + 1;
  while (valueEnd < end && bytes[valueEnd] !== field && bytes[valueEnd] !== component && bytes[valueEnd] !== repetition) {
    valueEnd++;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + i + 1, valueEnd - i - 1).toString('latin1').trim();
}
