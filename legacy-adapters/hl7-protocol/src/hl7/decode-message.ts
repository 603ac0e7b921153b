/**
 * From a frame's bytes to a decoded message, or to an HL7 error that says what is wrong and
 * where, together with whatever of the header could still be read (so that the AR/CR answer
 * can echo the control id).
 */
import { DEFAULT_CHARSET } from './charset.js';
import { readDelimiters, readFieldSeparator, type Hl7Delimiters } from './delimiters.js';
import { hl7Error, type Hl7Error, type Hl7ErrorLocation } from './errors.js';
import { notMsh, readFrameText, type DecodeOptions } from './frame-text.js';
import { checkMessageHeader, readHeaderLoosely, readMessageHeader } from './header.js';
import { LibraryMessageReader } from './library-reader.js';
import { resolveMessageEscapes } from './message-escapes.js';
import { Hl7Message, type AckSubject } from './message.js';
import { segmentValue } from './segment-values.js';
import { isHeaderId, segmentId, splitSegments, wellFormedSegmentId } from './segments.js';
import { toValueAddress } from './field-path.js';

export type { DecodeOptions } from './frame-text.js';

export type MessageDecodeResult =
  | { readonly ok: true; readonly message: Hl7Message }
  | { readonly ok: false; readonly error: Hl7Error; readonly received: AckSubject };

/**
 * Decodes a frame: its bytes read in their charset (readFrameText), then its segments. Line
 * breaks, spaces and tabs in front of MSH are skipped, as interface engines skip them.
 */
export function decodeMessage(frame: Uint8Array, options: DecodeOptions = {}): MessageDecodeResult {
  const read = readFrameText(frame, options);
  if (!read.ok) return failure(read.error, read.text);
  return decodeMessageText(read.text, read.charset.hl7Name);
}

/**
 * Decodes message text that is already a string (bytes decoded by the caller). `charset` is
 * recorded, as the charset the answer should be written in, and is the one hex data (\X..\)
 * is read in.
 */
export function decodeMessageText(text: string, charset: string = DEFAULT_CHARSET): MessageDecodeResult {
  const segments = splitSegments(text);
  const first = segments[0];
  if (first === undefined) return failure(hl7Error(100, 'the message is empty: MSH expected', { segment: 'MSH', sequence: 1 }));
  const firstId = first.slice(0, 3);
  if (firstId !== 'MSH') return failure(notMsh(firstId, first.charAt(1) === '\0'));

  const delimiters = readDelimiters(first);
  if (!delimiters.ok) return failure(delimiters.error, first, charset);
  const d = delimiters.delimiters;

  const occurrences = new Map<string, number>();
  for (let i = 1; i < segments.length; i++) {
    const id = wellFormedSegmentId(segments[i] as string, d.field);
    if (id === undefined) {
      return failure(
        hl7Error(100, `segment ${i + 1} of the message has no valid segment id (3 upper-case letters or digits, then the field separator)`),
        first,
        charset,
      );
    }
    const sequence = (occurrences.get(id) ?? 0) + 1;
    occurrences.set(id, sequence);
    if (isHeaderId(id) || id === 'BTS' || id === 'FTS') {
      return failure(
        hl7Error(100, `segment ${i + 1} is ${id}, which cannot occur inside a message (a batch is decoded with decodeBatch)`, {
          segment: id,
          sequence: id === 'MSH' ? sequence + 1 : sequence,
        }),
        first,
        charset,
      );
    }
  }

  const nul = text.includes('\0') ? nulLocation(segments, d) : undefined;
  if (nul) {
    const where = nul.field === undefined ? `segment ${nul.segment}` : `${nul.segment}-${nul.field}`;
    return failure(hl7Error(102, `${where} holds a NUL character (0x00), which HL7 text cannot hold`, nul), first, charset);
  }
  // hex data in the message's charset, \P\ as its truncation character: for the readers only
  const resolved = resolveMessageEscapes(segments, d, charset);
  if (!resolved.ok) return failure(resolved.error, first, charset);
  let reader: LibraryMessageReader;
  try {
    reader = new LibraryMessageReader(resolved.segments, d);
  } catch {
    // the library's own message is not passed on: it may quote message content
    return failure(hl7Error(207, 'the HL7 parser could not read the message'), first, charset);
  }
  const message = new Hl7Message(segments.join('\r') + '\r', d, charset, reader, resolved.segments);
  const problem = checkMessageHeader(message.header);
  if (problem) return { ok: false, error: problem, received: { delimiters: d, header: message.header, charset } };
  return { ok: true, message };
}

/**
 * Where the first NUL character is. No text column (PostgreSQL's, so the legacy's and the
 * services') holds one: taken, a NUL in a name made every try to apply the message fail, and
 * the patient's later messages waited behind it for ever.
 */
function nulLocation(segments: readonly string[], d: Hl7Delimiters): Hl7ErrorLocation | undefined {
  const occurrences = new Map<string, number>();
  for (const segment of segments) {
    const id = segment.slice(0, 3);
    const sequence = (occurrences.get(id) ?? 0) + 1;
    occurrences.set(id, sequence);
    const at = segment.indexOf('\0');
    if (at === -1) continue;
    let separators = 0;
    for (let i = segment.indexOf(d.field); i !== -1 && i < at; i = segment.indexOf(d.field, i + 1)) separators++;
    // MSH-1 is the field separator itself, so MSH-n follows n-1 of them
    const field = isHeaderId(id) ? separators + 1 : separators;
    return field === 0 ? { segment: id, sequence } : { segment: id, sequence, field };
  }
  return undefined;
}

/**
 * A failure, with the header fields that could still be read from `text` (or from its first
 * segment when only that is given), so that the rejection echoes the sender's control id.
 */
function failure(error: Hl7Error, text?: string, charset?: string): MessageDecodeResult {
  const received = text === undefined ? {} : readWhatCanBeRead(text);
  return { ok: false, error, received: charset === undefined ? received : { ...received, charset } };
}

function readWhatCanBeRead(text: string): AckSubject {
  const msh = splitSegments(text)[0];
  if (msh === undefined || segmentId(msh) !== 'MSH') return {};
  const delimiters = readDelimiters(msh);
  if (!delimiters.ok) {
    // the answer is written with the default delimiters, but still names the message (MSA-2)
    const field = readFieldSeparator(msh);
    return field === undefined ? {} : { header: readHeaderLoosely(msh, field) };
  }
  const d = delimiters.delimiters;
  return { delimiters: d, header: readMessageHeader((p) => segmentValue(msh, d, toValueAddress(p))) };
}
