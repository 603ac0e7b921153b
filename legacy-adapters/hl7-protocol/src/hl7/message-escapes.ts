/**
 * The escape sequences whose meaning depends on the message, not on its delimiters alone,
 * resolved before any value is read:
 *
 * - `\Xhh..\` is hexadecimal data: bytes, in the message's character set (MSH-18). Both
 *   readers (node-hl7-client and segment-values.ts) turn each byte into the character of that
 *   code, so the UTF-8 `\XC39C\` (Ü) was read as `Ã` and U+009C, and stored so, in a name.
 *   Sequences that follow each other directly are one run of bytes (`\XC3\\X9C\` is Ü too:
 *   some senders write one sequence per byte). Bytes that are not valid in the charset are
 *   refused (102 where they are), as raw bytes are: a corrupted name is worse than a refusal;
 *   and so is a NUL (`\X00\`), as a raw one is (decode-message.ts).
 * - `\P\` is the v2.7 truncation character as data, when MSH-2 declares one.
 *
 * Each is replaced by its text, written again with `escapeValue` (a decoded separator, escape
 * character or line break stays data), in the segments the readers are given; the message's
 * `text` keeps the sequences as sent. Escape characters pair up within one value as the
 * readers pair them, so a sequence is resolved exactly where a reader would have read one.
 */
import { lookupCharset, type Charset } from './charset.js';
import { encodingCharacters, type Hl7Delimiters } from './delimiters.js';
import { escapeValue } from './escape.js';
import { hl7Error, type Hl7Error } from './errors.js';

export type EscapeResolution = { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly error: Hl7Error };

const HEX_DATA = /^X(?:[0-9A-Fa-f]{2})+$/;

/**
 * `segments` (the MSH first) with those sequences resolved. `charset` is the HL7 name the bytes
 * were read in; one that cannot be looked up leaves hex data to the readers, byte by byte.
 */
export function resolveMessageEscapes(segments: readonly string[], d: Hl7Delimiters, charset: string): EscapeResolution {
  const e = d.escape;
  if (!segments.some((s) => s.includes(`${e}X`) || (d.truncation !== '' && s.includes(`${e}P${e}`)))) return { ok: true, segments };
  const found = lookupCharset(charset);
  const codec = found.ok ? found.charset : undefined;
  const occurrences = new Map<string, number>();
  const out: string[] = [];
  for (const [i, segment] of segments.entries()) {
    const id = segment.slice(0, 3);
    const sequence = (occurrences.get(id) ?? 0) + 1;
    occurrences.set(id, sequence);
    if (!segment.includes(e)) {
      out.push(segment);
      continue;
    }
    const resolved = resolveSegment(segment, i === 0, d, codec);
    if (typeof resolved !== 'string') {
      const where = `${id}-${resolved.field}`;
      const message =
        resolved.problem === 'nul'
          ? `${where} holds hex data (an X escape sequence) that is a NUL character (0x00), which HL7 text cannot hold`
          : `${where} holds hex data (an X escape sequence) whose bytes are not valid ${codec?.hl7Name ?? charset}, the message's character set (MSH-18 or the receiver's default)`;
      return { ok: false, error: hl7Error(102, message, { segment: id, sequence, field: resolved.field }) };
    }
    out.push(resolved);
  }
  return { ok: true, segments: out };
}

type HexProblem = 'invalid' | 'nul';

/** The segment resolved, or the field (HL7 numbering) whose hex data cannot be read, and why. */
function resolveSegment(segment: string, isMsh: boolean, d: Hl7Delimiters, codec: Charset | undefined): string | { field: number; problem: HexProblem } {
  // MSH-1 and MSH-2 are the delimiters themselves: values start after them, at MSH-3
  const start = isMsh ? 4 + encodingCharacters(d).length : 3;
  let field = isMsh ? 2 : 0;
  let out = segment.slice(0, start);
  let valueStart = start;
  for (let i = start; i <= segment.length; i++) {
    const ch = segment.charAt(i);
    if (i < segment.length && ch !== d.field && ch !== d.component && ch !== d.repetition && ch !== d.subcomponent) continue;
    const value = resolveValue(segment.slice(valueStart, i), d, codec);
    if (typeof value !== 'string') return { field, problem: value.problem };
    out += value + ch;
    if (ch === d.field) field++;
    valueStart = i + 1;
  }
  return out;
}

/** One value (no delimiters inside) resolved, or why its hex data cannot be read. */
function resolveValue(value: string, d: Hl7Delimiters, codec: Charset | undefined): string | { problem: HexProblem } {
  const e = d.escape;
  if (!value.includes(e)) return value;
  let out = '';
  let from = 0;
  let hex: number[] | undefined;
  const flush = (): HexProblem | undefined => {
    if (hex === undefined || codec === undefined) return undefined;
    let text: string;
    try {
      text = codec.decode(Uint8Array.from(hex));
    } catch {
      return 'invalid';
    }
    if (text.includes('\0')) return 'nul';
    out += escapeValue(text, d);
    hex = undefined;
    return undefined;
  };
  let problem: HexProblem | undefined;
  // escape characters pair up as the readers pair them (segment-values.ts unescapeValue)
  for (let open = value.indexOf(e); open !== -1; ) {
    const close = value.indexOf(e, open + 1);
    if (close === -1) break;
    const body = value.slice(open + 1, close);
    if (HEX_DATA.test(body) && codec !== undefined) {
      if (hex === undefined || from !== open) {
        if ((problem = flush())) return { problem };
        out += value.slice(from, open);
        hex = [];
      }
      for (let i = 1; i < body.length; i += 2) hex.push(parseInt(body.slice(i, i + 2), 16));
      from = close + 1;
    } else if (body === 'P' && d.truncation !== '') {
      if ((problem = flush())) return { problem };
      out += value.slice(from, open) + d.truncation;
      from = close + 1;
    }
    open = value.indexOf(e, close + 1);
  }
  if ((problem = flush())) return { problem };
  return out + value.slice(from);
}
