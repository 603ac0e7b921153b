/**
 * Segment boundaries in decoded text. HL7 ends segments with CR; files and some senders use LF
 * or CRLF. When the text holds a CR, CR is the terminator and a lone LF is kept as data (some
 * senders put raw line breaks in OBX text); without any CR, LF is the terminator.
 */
export function splitSegments(text: string): string[] {
  const crStyle = text.includes('\r');
  const pieces = text.split(crStyle ? '\r' : '\n');
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
