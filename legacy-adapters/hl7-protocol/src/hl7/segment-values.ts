/**
 * Values read straight from one segment's text, for the fields every message is routed and
 * answered by (the MSH header, PID-3): split by the message's own delimiters, then unescaped
 * as node-hl7-client unescapes (\F\ \S\ \T\ \R\ \E\, \Xhh..\, the formatting sequences
 * \H\ \N\ \Cxxyy\ \Mxxyyzz\ \Zxx\ dropped, an unknown sequence kept as written). Reading
 * these through the library's nodes costs about 150 µs a message (its nodes are built on the
 * first read), five times the parse itself; this costs a few. A property test holds the two
 * to the same values. One difference on purpose: a \X..\ sequence that is not whole hex
 * digit pairs is kept as written, where the library reads NUL characters or throws.
 */
import { encodingCharacters, type Hl7Delimiters } from './delimiters.js';
import type { ValueAddress } from './library-reader.js';
import { isHeaderId } from './segments.js';

export type SegmentAddress = Pick<ValueAddress, 'field' | 'repetition' | 'component' | 'subcomponent'>;

/** The unescaped value at `a` in `segment` (its text, id first), '' when any part is absent. */
export function segmentValue(segment: string, d: Hl7Delimiters, a: SegmentAddress): string {
  const header = isHeaderId(segment.slice(0, 3));
  if (header && a.field === 1) return d.field;
  if (header && a.field === 2) return encodingCharacters(d);
  const raw = nth(segment, d.field, header ? a.field - 1 : a.field);
  if (raw === undefined) return '';
  const repetition = nth(raw, d.repetition, a.repetition - 1);
  if (repetition === undefined) return '';
  const component = nth(repetition, d.component, a.component - 1);
  if (component === undefined) return '';
  const sub = nth(component, d.subcomponent, a.subcomponent - 1);
  return sub === undefined ? '' : unescapeValue(sub, d);
}

/** How many repetitions field `field` of `segment` has (0 when it is empty or absent); not for MSH-1 and MSH-2. */
export function segmentRepetitions(segment: string, d: Hl7Delimiters, field: number): number {
  const raw = nth(segment, d.field, isHeaderId(segment.slice(0, 3)) ? field - 1 : field);
  return raw === undefined || raw === '' ? 0 : raw.split(d.repetition).length;
}

/** The n-th (0-based) piece of `text` split by `sep`, without splitting all of it. */
function nth(text: string, sep: string, n: number): string | undefined {
  let start = 0;
  for (let i = 0; i < n; i++) {
    const at = text.indexOf(sep, start);
    if (at === -1) return undefined;
    start = at + sep.length;
  }
  const end = text.indexOf(sep, start);
  return end === -1 ? text.slice(start) : text.slice(start, end);
}

const HEX_PAIRS = /^(?:[0-9A-Fa-f]{2})*$/;

/** The escape sequences of a value, replaced as node-hl7-client replaces them (see above). */
export function unescapeValue(value: string, d: Hl7Delimiters): string {
  const e = d.escape;
  if (!value.includes(e)) return value;
  let out = '';
  let from = 0;
  for (let open = value.indexOf(e); open !== -1; ) {
    const close = value.indexOf(e, open + 1);
    if (close === -1) break;
    const body = value.slice(open + 1, close);
    const replacement = sequence(body, d);
    if (replacement !== undefined) {
      out += value.slice(from, open) + replacement;
      from = close + 1;
    }
    open = value.indexOf(e, close + 1);
  }
  return out + value.slice(from);
}

function sequence(body: string, d: Hl7Delimiters): string | undefined {
  switch (body.charAt(0)) {
    case 'E':
      return d.escape;
    case 'F':
      return d.field;
    case 'R':
      return d.repetition;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'X': {
      const hex = body.slice(1);
      if (!HEX_PAIRS.test(hex)) return undefined;
      let text = '';
      for (let i = 0; i < hex.length; i += 2) text += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
      return text;
    }
    case 'C':
    case 'H':
    case 'M':
    case 'N':
    case 'Z':
      return '';
    default:
      return undefined;
  }
}
