/**
 * The laboratory's comments on one observation: the NTE segments right after its OBX (ORU^R01's
 * OBSERVATION group: OBX, then its NTEs). @ficus/hl7-protocol reads no NTE, since the legacy
 * keeps no comments; results-service keeps them for FHIR Observation.note (migration 004).
 */
import { HL7_NULL, nth, readableText, segmentOccurrences, type Hl7Message } from '@ficus/hl7-protocol';

/** One element per NTE that says something (NTE-3, its repetitions as lines, readable text); null when none does. */
export function observationComments(m: Hl7Message, obx: number): string[] | null {
  const segments = segmentOccurrences(m);
  const at = segments.findIndex(([id, n]) => id === 'OBX' && n === obx);
  const comments: string[] = [];
  for (let i = at + 1; at !== -1 && i < segments.length && segments[i]![0] === 'NTE'; i++) {
    const comment = commentText(m, segments[i]![1]);
    if (comment !== '') comments.push(comment);
  }
  return comments.length === 0 ? null : comments;
}

function commentText(m: Hl7Message, nte: number): string {
  const field = nth('NTE', nte, '3');
  const lines: string[] = [];
  for (let r = 1; r <= m.repetitionCount(field); r++) {
    const line = m.get(`${field}(${r})`);
    // `""` is HL7's explicit null: no comment, not the two characters
    if (line.trim() !== HL7_NULL) lines.push(readableText(line, m.delimiters.escape));
  }
  return lines.join('\n').trim();
}
