/**
 * The one place that uses node-hl7-client: it parses segments we have already split and
 * checked, and reads single values from them, unescaped. Two of the library's habits would
 * change what it reads, so the text it is given is adjusted first (see `textForLibrary`); the
 * adjustments are invisible through `value`, which is the only way out of this module.
 */
import { Message, type HL7Node } from 'node-hl7-client';
import { encodingCharacters, type Hl7Delimiters } from './delimiters.js';
import { segmentValue } from './segment-values.js';
import { isHeaderId } from './segments.js';

/** One value: segment occurrence, field, repetition, component, subcomponent (all 1-based). */
export interface ValueAddress {
  readonly segment: string;
  readonly occurrence: number;
  readonly field: number;
  readonly repetition: number;
  readonly component: number;
  readonly subcomponent: number;
}

export class LibraryMessageReader {
  readonly segmentIds: readonly string[];
  private readonly bySegment = new Map<string, HL7Node[]>();
  private readonly segments: readonly string[];

  /** `segments` must start with an MSH whose separators are `delimiters`. Throws what the library throws. */
  constructor(
    segments: readonly string[],
    private readonly delimiters: Hl7Delimiters,
  ) {
    this.segments = segments;
    const parsed = new Message({ text: textForLibrary(segments, delimiters) });
    const ids: string[] = [];
    for (let i = 0; i < parsed.length; i++) {
      const segment = parsed.get(i);
      ids.push(segment.name);
      const list = this.bySegment.get(segment.name);
      if (list) list.push(segment);
      else this.bySegment.set(segment.name, [segment]);
    }
    this.segmentIds = ids;
  }

  count(segmentId: string): number {
    return this.bySegment.get(segmentId)?.length ?? 0;
  }

  /** The unescaped value, '' when any part of the address is absent. */
  value(a: ValueAddress): string {
    const field = this.field(a);
    if (typeof field === 'string') return field;
    if (field === undefined) return '';
    try {
      return field
        .get(a.repetition - 1)
        .get(a.component - 1)
        .get(a.subcomponent - 1)
        .toString();
    } catch {
      // the library throws on a \X..\ sequence of an odd number of digits: read it as segment-values does
      const text = this.segments.filter((s) => s.startsWith(a.segment))[a.occurrence - 1];
      return text === undefined ? '' : segmentValue(text, this.delimiters, a);
    }
  }

  repetitionCount(a: Pick<ValueAddress, 'segment' | 'occurrence' | 'field'>): number {
    const field = this.field(a);
    if (typeof field === 'string') return 1;
    return field?.length ?? 0;
  }

  // Navigation goes by index through the library's nodes: its dotted paths throw a TypeError
  // for a component past the end of a field (`PID.3.9.1`) instead of returning nothing.
  private field(a: Pick<ValueAddress, 'segment' | 'occurrence' | 'field'>): HL7Node | string | undefined {
    const segment = this.bySegment.get(a.segment)?.[a.occurrence - 1];
    if (segment === undefined) return undefined;
    let index = a.field;
    if (isHeaderId(a.segment)) {
      // MSH-1 is the separator itself, so MSH-n is the library's child n-1
      if (a.field === 1) return this.delimiters.field;
      if (a.field === 2) return encodingCharacters(this.delimiters);
      index = a.field - 1;
    }
    return index < segment.length ? segment.get(index) : undefined;
  }
}

/**
 * Segments joined with CR, adjusted for two habits of node-hl7-client 2.3.1:
 *
 * - Its Message constructor counts MSH segments with a regular expression that finds `MSH|`
 *   anywhere, not only at a segment start, and throws "Multiple MSH segments found" for a
 *   value such as a facility code `RMSH` followed by the field separator (or any literal `MSH|`
 *   in a message whose field separator is not `|`). The `H` of such an inner `MSH|` is written
 *   as the hex escape `\X48\`, which the library reads back as `H`.
 * - It trims every segment, so trailing spaces of a segment's last value would be lost. A
 *   segment ending in white space gets one more, empty, field, which HL7 reads as absent.
 */
export function textForLibrary(segments: readonly string[], d: Hl7Delimiters): string {
  return segments
    .map((segment) => {
      let s = segment.indexOf('MSH|', 1) === -1 ? segment : maskInnerMsh(segment, d);
      if (/\s$/.test(s)) s += d.field;
      return s;
    })
    .join('\r');
}

function maskInnerMsh(segment: string, d: Hl7Delimiters): string {
  let out = '';
  let copiedTo = 0;
  for (let i = segment.indexOf('MSH|', 1); i !== -1; i = segment.indexOf('MSH|', i + 1)) {
    // inside an escape sequence (an odd number of escape characters before it in its field) the
    // text is not data and is left alone; the library then refuses the message, and decoding
    // reports that
    const fieldStart = segment.lastIndexOf(d.field, i - 1) + 1;
    if (countOf(segment, d.escape, fieldStart, i) % 2 === 1) continue;
    out += segment.slice(copiedTo, i + 2) + `${d.escape}X48${d.escape}`;
    copiedTo = i + 3;
  }
  return out + segment.slice(copiedTo);
}

function countOf(text: string, ch: string, start: number, end: number): number {
  let n = 0;
  for (let i = text.indexOf(ch, start); i !== -1 && i < end; i = text.indexOf(ch, i + 1)) n++;
  return n;
}
