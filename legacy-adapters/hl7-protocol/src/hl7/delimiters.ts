import { hl7Error, type Hl7Error } from './errors.js';

/** The separators a message declares in MSH-1 and MSH-2 (or FHS/BHS-1 and -2). */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** v2.7+: a fifth encoding character; '' when the message declares none. */
  readonly truncation: string;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: '',
};

/** MSH-2 as written: component, repetition, escape, subcomponent [, truncation]. */
export function encodingCharacters(d: Hl7Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent + d.truncation;
}

/**
 * Reads the delimiters from the start of a header segment (`MSH|^~\&|…`, also FHS and BHS).
 * MSH-1 and MSH-2 must be five or six distinct printable ASCII characters that are not letters
 * or digits (the charset is read from the raw bytes by these separators, before the text is
 * decoded): anything else cannot be parsed safely, so it is a decode error and not a guess.
 */
export function readDelimiters(segment: string): { ok: true; delimiters: Hl7Delimiters } | { ok: false; error: Hl7Error } {
  const id = segment.slice(0, 3);
  const field = readFieldSeparator(segment);
  if (field === undefined) {
    return { ok: false, error: hl7Error(102, `${id}-1 (field separator) is missing or not a usable separator`, { segment: id, sequence: 1, field: 1 }) };
  }
  const end = segment.indexOf(field, 4);
  const encoding = end === -1 ? segment.slice(4) : segment.slice(4, end);
  const chars = [...encoding];
  const wrong = encodingProblem(id, field, chars, end !== -1);
  if (wrong !== undefined) return { ok: false, error: hl7Error(102, wrong, { segment: id, sequence: 1, field: 2 }) };
  const [component, repetition, escape, subcomponent, truncation = ''] = chars as [string, string, string, string, string?];
  return { ok: true, delimiters: { field, component, repetition, escape, subcomponent, truncation } };
}

/**
 * What is wrong with the encoding characters, in words a person at the sending side can act on
 * (the count alone misleads: a repeated character still makes four, and a field separator
 * other than the one the fields use makes the rest of the segment one long MSH-2).
 */
function encodingProblem(id: string, field: string, chars: string[], ended: boolean): string | undefined {
  const name = `${id}-2 (encoding characters)`;
  if (chars.length > 5) {
    return ended
      ? `${name} has ${chars.length} characters before the next field separator ${quote(field)}; it takes 4 or 5`
      : `${id}-1 declares ${quote(field)} as the field separator, but no ${quote(field)} follows ${name} in the segment: its fields are separated by another character`;
  }
  if (chars.length < 4) {
    return `${name} has ${chars.length === 0 ? 'no characters' : `only ${chars.map(quote).join(' ')}`}; it needs 4 or 5: component, repetition, escape and subcomponent separators, then the truncation character (v2.7+)`;
  }
  const odd = chars.find((c) => !usable(c));
  if (odd !== undefined) return `${name} holds ${quote(odd)}, which cannot be a separator: separators are printable ASCII characters other than letters and digits`;
  const repeated = chars.find((c, i) => chars.indexOf(c) !== i);
  if (repeated !== undefined) return `${name} uses ${quote(repeated)} for two separators; each must be a different character`;
  return undefined;
}

/** A character as an error message shows it: printable ASCII as itself, anything else by code point. */
function quote(ch: string): string {
  return /^[\x21-\x7E]$/.test(ch) ? `"${ch}"` : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** MSH-1 (FHS-1, BHS-1), the character after the segment id; undefined when it is no usable separator. */
export function readFieldSeparator(segment: string): string | undefined {
  const field = segment.charAt(3);
  return field !== '' && usable(field) ? field : undefined;
}

/** Printable ASCII that is neither a letter nor a digit: bytes and characters then agree. */
function usable(ch: string): boolean {
  return /^[\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]$/.test(ch);
}
