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
  const distinct = new Set([field, ...chars]).size === chars.length + 1;
  if (chars.length < 4 || chars.length > 5 || !distinct || !chars.every(usable)) {
    return {
      ok: false,
      error: hl7Error(
        102,
        `${id}-2 (encoding characters) must be 4 or 5 distinct separator characters, found ${chars.length}`,
        { segment: id, sequence: 1, field: 2 },
      ),
    };
  }
  const [component, repetition, escape, subcomponent, truncation = ''] = chars as [string, string, string, string, string?];
  return { ok: true, delimiters: { field, component, repetition, escape, subcomponent, truncation } };
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
