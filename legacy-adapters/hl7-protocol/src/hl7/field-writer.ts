/**
 * Writes the fields of segments Ficus builds itself (ACKs, batch envelopes) with the delimiters
 * of the message they answer, every value escaped.
 */
import type { Hl7Delimiters } from './delimiters.js';
import type { Hl7Error, Hl7ErrorLocation } from './errors.js';
import { escapeValue } from './escape.js';
import type { HierarchicDesignator } from './header.js';

/** Writes values escaped, composites with trailing empty parts left out. */
export class FieldWriter {
  constructor(private readonly d: Hl7Delimiters) {}

  value(v: string): string {
    return escapeValue(v, this.d);
  }

  /**
   * Text for a field of at most `max` characters as written (escapes counted: a receiver that
   * checks lengths sees those): cut, when it is longer, after the last clause (`; `, `: `) or
   * word that fits in the second half, else where it stops fitting. An escape sequence or a
   * character beyond U+FFFF is never split, and nothing is added: an ellipsis is not ASCII, and
   * the v2.7 truncation character means nothing to the versions that have such limits.
   */
  text(v: string, max: number): string {
    let fits = 0;
    let written = 0;
    for (const ch of v) {
      written += escapeValue(ch, this.d).length;
      if (written > max) break;
      fits += ch.length;
    }
    if (fits === v.length) return escapeValue(v, this.d);
    const kept = v.slice(0, fits);
    const clause = Math.max(kept.lastIndexOf('; '), kept.lastIndexOf(': '));
    const word = /\s/.test(v.charAt(fits)) ? fits : kept.lastIndexOf(' ');
    const end = clause >= max / 2 ? clause : word >= max / 2 ? word : fits;
    return escapeValue(kept.slice(0, end).replace(/[\s,;:]+$/, ''), this.d);
  }

  components(values: readonly string[]): string {
    return trimEmpty(values.map((v) => this.value(v))).join(this.d.component);
  }

  hd(h: HierarchicDesignator): string {
    return this.components([h.namespaceId, h.universalId, h.universalIdType]);
  }

  /** ERR-2 (ERL): segment ^ sequence ^ field ^ repetition ^ component ^ subcomponent. */
  location(l: Hl7ErrorLocation | undefined): string {
    if (l === undefined) return '';
    return this.components([l.segment, String(l.sequence), ...positions(l)]);
  }

  /** ERR-3 (CWE): code ^ text ^ HL70357. */
  errorCode(e: Hl7Error): string {
    return this.components([String(e.code), e.text, 'HL70357']);
  }

  /** ERR-1 (ELD) before v2.5: segment ^ sequence ^ field ^ code & text & HL70357. */
  legacyErrorLocation(e: Hl7Error): string {
    const l = e.location;
    const code = trimEmpty([String(e.code), e.text, 'HL70357'].map((v) => this.value(v))).join(this.d.subcomponent);
    const where = l === undefined ? ['', '', ''] : [l.segment, String(l.sequence), l.field === undefined ? '' : String(l.field)];
    return [...where.map((v) => this.value(v)), code].join(this.d.component);
  }
}

function positions(l: Hl7ErrorLocation): string[] {
  const n = (x: number | undefined) => (x === undefined ? '' : String(x));
  return [n(l.field), n(l.repetition), n(l.component), n(l.subcomponent)];
}

export function trimEmpty(values: string[]): string[] {
  let end = values.length;
  while (end > 0 && values[end - 1] === '') end--;
  return values.slice(0, end);
}
