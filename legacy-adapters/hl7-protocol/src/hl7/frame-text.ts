/**
 * A frame's bytes as text, in the charset they are in: a UTF-8 byte order mark, else MSH-18,
 * else the receiver's default. Messages and the ACKs answering them are read by this one rule.
 */
import { DEFAULT_CHARSET, lookupCharset, type Charset } from './charset.js';
import { hl7Error, type Hl7Error, type Hl7ErrorLocation } from './errors.js';
import { BOM_LENGTH, detectByteOrderMark, sniffDeclaredCharset, splitByteLines, withoutLeadingWhitespace, type ByteLine } from './frame-bytes.js';

export interface DecodeOptions {
  /**
   * The charset of messages whose MSH-18 is empty, as an HL7 name (default `UNICODE UTF-8`).
   * A feed known to send Latin-1 without saying so can be read with `8859/1`.
   */
  readonly defaultCharset?: string;
}

export type FrameText =
  | { readonly ok: true; readonly text: string; readonly charset: Charset }
  /** `text`, when given, is what could still be read (Latin-1, one character a byte) to echo the header */
  | { readonly ok: false; readonly error: Hl7Error; readonly text?: string };

const MSH18: Hl7ErrorLocation = { segment: 'MSH', sequence: 1, field: 18 };

/** The text of a frame whose first segment is MSH (line breaks, spaces and tabs before it are skipped). */
export function readFrameText(frame: Uint8Array, options: DecodeOptions = {}): FrameText {
  const bom = detectByteOrderMark(frame);
  if (bom === 'utf-16le' || bom === 'utf-16be') {
    // refused, but read far enough to echo the control id in the rejection
    const text = new TextDecoder(bom).decode(frame.subarray(BOM_LENGTH[bom]));
    return { ok: false, error: hl7Error(103, 'UTF-16 (byte order mark) cannot be carried in MLLP byte framing; send UNICODE UTF-8', MSH18), text };
  }
  if (bom === 'utf-32le' || bom === 'utf-32be') {
    return { ok: false, error: hl7Error(103, 'UTF-32 (byte order mark) cannot be carried in MLLP byte framing; send UNICODE UTF-8', MSH18) };
  }
  const trimmed = withoutLeadingWhitespace(frame);
  const bytes = bom === 'utf-8' ? trimmed.subarray(BOM_LENGTH[bom]) : trimmed;

  const first = splitByteLines(bytes)[0];
  if (first === undefined) return { ok: false, error: hl7Error(100, 'the message is empty: MSH expected', { segment: 'MSH', sequence: 1 }) };
  const firstId = String.fromCharCode(...bytes.subarray(first.start, first.start + 3));
  if (firstId !== 'MSH') return { ok: false, error: notMsh(firstId, bytes[first.start + 1] === 0) };

  const chosen = frameCharset(bytes, first, bom === 'utf-8', options);
  if (!chosen.ok) return { ...chosen, text: latin1(bytes) };
  const { charset } = chosen;
  try {
    return { ok: true, text: charset.decode(bytes), charset };
  } catch {
    return { ok: false, error: hl7Error(102, `the message bytes are not valid ${charset.hl7Name} (MSH-18 or the receiver's default)`, MSH18), text: latin1(bytes) };
  }
}

/**
 * The charset of a frame's bytes: UTF-8 after a UTF-8 byte order mark, else the MSH-18 of `msh`
 * (the frame's first MSH line; a batch's envelope is read in its first message's), else the
 * receiver's default. One rule for messages, batches and the ACKs answering them.
 */
export function frameCharset(
  bytes: Uint8Array,
  msh: ByteLine | undefined,
  utf8Bom: boolean,
  options: DecodeOptions,
): { ok: true; charset: Charset } | { ok: false; error: Hl7Error } {
  // A UTF-8 byte order mark outweighs MSH-18: a Latin-1 message cannot start with one, so the
  // bytes are UTF-8 whatever the header says (typically a file re-saved by an editor).
  if (utf8Bom) return { ok: true, charset: lookupUtf8() };
  const declared = msh === undefined ? '' : sniffDeclaredCharset(bytes, msh);
  const found = lookupCharset(declared === '' ? (options.defaultCharset ?? DEFAULT_CHARSET) : declared);
  if (!found.ok) return { ok: false, error: hl7Error(103, `MSH-18 (character set) ${JSON.stringify(declared)} ${found.reason}`, MSH18) };
  return found;
}

export function notMsh(id: string, looksUtf16: boolean): Hl7Error {
  const location = { segment: 'MSH', sequence: 1 };
  if (id === 'FHS' || id === 'BHS') return hl7Error(100, `the first segment is ${id}: this is a batch, decoded with decodeBatch`, location);
  if (looksUtf16) return hl7Error(100, 'the first segment is not MSH (the bytes look like UTF-16 without a byte order mark)', location);
  return hl7Error(100, 'the first segment is not MSH: this is not an HL7 v2 message', location);
}

function lookupUtf8(): Charset {
  const found = lookupCharset(DEFAULT_CHARSET);
  if (!found.ok) throw new Error('UTF-8 is always supported');
  return found.charset;
}

/** Every byte maps to one character: enough to read an ASCII header from bytes of any charset. */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
