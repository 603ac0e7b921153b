/**
 * Reading an acknowledgement quickly: a sender waits for thousands of them a second, and needs
 * only MSA-1, MSA-2, why (MSA-3, ERR-8, ERR-3.2), the error codes (whether to send again
 * depends on them) and where the first error is (passed on to the sender of the message). Values are unescaped; anything that is not a well-formed ACK reads as
 * undefined (the caller then decodes it fully, or gives up).
 */
import { readDelimiters, type Hl7Delimiters } from './delimiters.js';
import type { Hl7ErrorLocation } from './errors.js';
import { BOM_LENGTH, detectByteOrderMark } from './frame-bytes.js';
import { latin1, readFrameText } from './frame-text.js';
import { splitSegments } from './segments.js';

export interface AckFields {
  code: string;
  controlId: string;
  text: string;
  /**
   * The error code (table 0357) of every ERR segment, in order: ERR-3.1 (v2.5+), else the code
   * in ERR-1.4 (ELD, before v2.5) of each repetition; empty when the ACK names none.
   */
  errorCodes: string[];
  /** Where the first ERR says the error is: ERR-2 (v2.5+), else ERR-1's first three components; absent when it names no place. */
  location?: Hl7ErrorLocation;
}

function unescape(value: string, d: Hl7Delimiters): string {
  if (!value.includes(d.escape)) return value;
  const e = d.escape;
  return value.replace(new RegExp(`\\${e}([FSTRE]|X[0-9A-Fa-f]+)\\${e}`, 'g'), (_m, code: string) => {
    switch (code) {
      case 'F':
        return d.field;
      case 'S':
        return d.component;
      case 'T':
        return d.subcomponent;
      case 'R':
        return d.repetition;
      case 'E':
        return d.escape;
      default:
        return String.fromCharCode(...(code.slice(1).match(/../g) ?? []).map((h) => parseInt(h, 16)));
    }
  });
}

/**
 * The fields of an ACK, its text read in its charset as a message is (a UTF-8 byte order mark,
 * else MSH-18, else UTF-8): read as Latin-1 whatever MSH-18 said, a legacy refusal naming
 * `MÜLLER` reached the dead letters as `MÃ\u009cLLER`. An ACK whose bytes are not valid in
 * that charset is still read, one character a byte: its codes and ids are ASCII.
 */
export function readAck(frame: Uint8Array): AckFields | undefined {
  const read = readFrameText(frame);
  const text = read.ok ? read.text : latin1(detectByteOrderMark(frame) === 'utf-8' ? frame.subarray(BOM_LENGTH['utf-8']) : frame);
  const segments = splitSegments(text);
  const msh = segments[0];
  if (!msh?.startsWith('MSH')) return undefined;
  const delimiters = readDelimiters(msh);
  if (!delimiters.ok) return undefined;
  const d = delimiters.delimiters;
  const field = (segment: string | undefined, n: number) => (segment === undefined ? '' : (segment.split(d.field)[n] ?? ''));
  const msa = segments.find((s) => s.startsWith(`MSA${d.field}`));
  if (!msa) return undefined;
  const errs = segments.filter((s) => s.startsWith(`ERR${d.field}`));
  const err = errs[0];
  const code = unescape(field(msa, 1), d).trim();
  if (!/^(AA|AE|AR|CA|CE|CR)$/.test(code)) return undefined;
  // the code's text: ERR-3.2, or before v2.5 (no ERR-3) the text beside the code in ERR-1's ELD-4
  const codeText = field(err, 3).split(d.component)[1] ?? (field(err, 1).split(d.component)[3] ?? '').split(d.subcomponent)[1] ?? '';
  const why = [field(msa, 3), field(err, 8), codeText].map((v) => unescape(v, d)).filter(Boolean);
  const location = err === undefined ? undefined : (locationOf(field(err, 2), 6, d) ?? locationOf(field(err, 1).split(d.repetition)[0] ?? '', 3, d));
  return { code, controlId: unescape(field(msa, 2), d), text: why.join('; '), errorCodes: errs.flatMap((s) => errorCodesOf(s, d)), ...(location ? { location } : {}) };
}

/** An ERL (`SEG^seq^field^rep^comp^sub`) or the first `parts` components of an ELD, when it names a segment and its occurrence. */
function locationOf(value: string, parts: number, d: Hl7Delimiters): Hl7ErrorLocation | undefined {
  const [segment = '', ...numbers] = value.split(d.component).slice(0, parts).map((v) => unescape(v, d).trim());
  if (!/^[A-Z][A-Z0-9]{2}$/.test(segment)) return undefined;
  const n = numbers.map((v) => (/^[1-9]\d{0,5}$/.test(v) ? Number(v) : undefined));
  if (n[0] === undefined) return undefined;
  const named = (['field', 'repetition', 'component', 'subcomponent'] as const).flatMap((k, i) => (n[i + 1] === undefined ? [] : [[k, n[i + 1]] as const]));
  return { segment, sequence: n[0], ...Object.fromEntries(named) };
}

/** An ERR segment's codes: ERR-3.1, or (a pre-2.5 receiver, which writes no ERR-3) each ERR-1 repetition's ELD-4.1. */
function errorCodesOf(segment: string, d: Hl7Delimiters): string[] {
  const fields = segment.split(d.field);
  const code = (value: string) => unescape(value, d).trim();
  const cwe = code((fields[3] ?? '').split(d.component)[0] ?? '');
  if (cwe !== '') return [cwe];
  return (fields[1] ?? '')
    .split(d.repetition)
    .map((eld) => code(((eld.split(d.component)[3] ?? '').split(d.subcomponent)[0] ?? '')))
    .filter((c) => c !== '');
}
