/**
 * Segment boundaries in decoded text. HL7 ends segments with CR; files and some senders use LF
 * or CRLF. When the text holds a CR between its first and last non-blank character, CR is the
 * terminator and a lone LF is kept as data (some senders put raw line breaks in OBX text);
 * otherwise LF is: a CR only in front of the first segment or after the last (LF-ended segments
 * followed by a CRLF) ends none of them, where it once made the whole message one segment.
 */
export function splitSegments(text: string): string[] {
  const crStyle = holdsInnerCr(text);
  // without an inner CR, a CR is only in the blank lines before or after the segments
  const pieces = crStyle ? text.split('\r') : text.split(/[\r\n]/);
  const segments: string[] = [];
  for (let piece of pieces) {
    if (crStyle) {
      if (piece.startsWith('\n')) piece = piece.slice(1);
      if (piece.endsWith('\n')) piece = piece.slice(0, -1);
    }
    if (piece.trim() !== '') segments.push(piece);
  }
  return segments;
}

/** Whether a CR occurs between the first and the last non-blank character (blank as `splitByteLines` counts it). */
function holdsInnerCr(text: string): boolean {
  let first = 0;
  while (first < text.length && BLANK.has(text.charCodeAt(first))) first++;
  let last = text.length - 1;
  while (last > first && BLANK.has(text.charCodeAt(last))) last--;
  const cr = text.indexOf('\r', first);
  return cr !== -1 && cr < last;
}

/** space, tab, CR, LF, VT, FF */
const BLANK = new Set([0x20, 0x09, 0x0d, 0x0a, 0x0b, 0x0c]);

/** A segment id: three characters, an upper-case letter then upper-case letters or digits. */
export function segmentId(segment: string): string | undefined {
  const id = segment.slice(0, 3);
  return /^[A-Z][A-Z0-9]{2}$/.test(id) ? id : undefined;
}

/**
 * The segment's id when it is well formed: a valid id followed by the field separator or by
 * nothing (an empty segment such as `NTE`).
 */
export function wellFormedSegmentId(segment: string, fieldSeparator: string): string | undefined {
  const id = segmentId(segment);
  if (id === undefined) return undefined;
  if (segment.length > 3 && segment.charAt(3) !== fieldSeparator && !isHeaderId(id)) return undefined;
  return id;
}

/** Segments that begin with their own field separator and encoding characters. */
export function isHeaderId(id: string): boolean {
  return id === 'MSH' || id === 'BHS' || id === 'FHS';
}
