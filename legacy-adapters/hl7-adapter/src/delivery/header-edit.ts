/**
 * Edits of the MSH segment of the copy a target gets, on the bytes: the rest of the message
 * goes out exactly as stored.
 */
import { DEFAULT_CHARSET, lookupCharset } from '@ficus/hl7-protocol';

const UTF8 = DEFAULT_CHARSET;
const CR = Buffer.from('\r');

/**
 * `message` (segments ending in CR, or LF) with its MSH fields changed by `edit`, which gets them split
 * (`fields[n - 1]` is MSH-n: `fields[0]` is "MSH", MSH-1 is the separator itself) and answers
 * whether it changed any; the same buffer when it did not, or when there is no MSH.
 */
export function editHeader(message: Buffer, edit: (fields: string[]) => boolean): Buffer {
  // MSH ends at the first CR or LF: a message may end its segments in LF (README, segments end
  // in CR, LF or CRLF), and read to a CR its header would run into the next segments, whose
  // fields an edit of MSH-15 or MSH-16 would then empty when MSH has fewer fields
  const cr = message.indexOf(0x0d);
  const lf = message.indexOf(0x0a);
  let end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
  if (end < 0) end = message.length;
  // delimiters are ASCII and no byte of a multi-byte UTF-8 character is, so latin1 keeps every byte
  const msh = message.toString('latin1', 0, end);
  if (!msh.startsWith('MSH') || msh.length < 4) return message;
  const separator = msh[3]!;
  const fields = msh.split(separator);
  if (!edit(fields)) return message;
  return Buffer.concat([Buffer.from(fields.join(separator), 'latin1'), message.subarray(end)]);
}

/** Sets MSH-`n` (an ASCII value) in split header fields, adding empty fields up to it. */
export function setHeaderField(fields: string[], n: number, value: string): void {
  while (fields.length < n) fields.push('');
  fields[n - 1] = value;
}

/**
 * A UTF-8 copy of a message whose MSH-18 may name another charset (its sender's bytes came with
 * a UTF-8 byte order mark, which outweighs MSH-18 on intake): MSH-18 says `UNICODE UTF-8`,
 * unless its first repetition already names UTF-8. Without this a receiver reads the UTF-8
 * bytes of `MÜLLER` as Latin-1 `MÃ\u009cLLER`.
 */
export function declaringUtf8(message: Buffer): Buffer {
  return editHeader(message, (fields) => {
    const repetition = fields[1]?.[1] ?? '~';
    const declared = (fields[17] ?? '').split(repetition)[0]!;
    const found = lookupCharset(declared);
    if (found.ok && found.charset.hl7Name === UTF8) return false;
    setHeaderField(fields, 18, UTF8);
    return true;
  });
}

/**
 * `message` with a CR after its last segment. Senders often leave it out (`…PV1|1|I<FS><CR>`:
 * that CR is MLLP's, not the segment's), and many receivers require the terminator on every
 * segment, as Mirth adds it. A message ending in LF is left alone: its segments end in LF.
 */
export function endingInCr(message: Buffer): Buffer {
  const last = message[message.length - 1];
  return last === undefined || last === 0x0d || last === 0x0a ? message : Buffer.concat([message, CR]);
}
