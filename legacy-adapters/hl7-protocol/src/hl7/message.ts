import type { Hl7Delimiters } from './delimiters.js';
import { toValueAddress, type FieldPath } from './field-path.js';
import { readMessageHeader, readPatientIdentifier, type MessageHeader, type PatientIdentifier } from './header.js';
import type { LibraryMessageReader } from './library-reader.js';
import { segmentRepetitions, segmentValue } from './segment-values.js';

/**
 * What an ACK needs from the message it answers. A decoded message is one; so is what a failed
 * decode could still read (possibly nothing).
 */
export interface AckSubject {
  readonly delimiters?: Hl7Delimiters;
  readonly header?: Partial<MessageHeader>;
  /** The HL7 charset the message's bytes were read in; the ACK is written in the same. */
  readonly charset?: string;
}

/** A decoded HL7 v2 message. */
export class Hl7Message implements AckSubject {
  readonly header: MessageHeader;
  /** PID-3, the repetition typed MR, else the first; undefined without a PID or with an empty PID-3.1 there. */
  readonly patientId: PatientIdentifier | undefined;

  /** @internal built by decodeMessage */
  constructor(
    /** The message as text: segments in order, each ended by CR, blank lines dropped. */
    readonly text: string,
    readonly delimiters: Hl7Delimiters,
    /** The HL7 charset the bytes were decoded with: MSH-18, or the default when it is empty. */
    readonly charset: string,
    private readonly reader: LibraryMessageReader,
    /** the segments `text` is made of: MSH and the first PID are read from them directly */
    segments: readonly string[],
  ) {
    // the fields every message is routed and answered by, read without building the library's nodes
    const msh = segments[0] ?? '';
    const pid = segments.find((s) => s.startsWith(`PID${delimiters.field}`)) ?? '';
    const read = (p: FieldPath) =>
      p.segment === 'MSH' || p.segment === 'PID'
        ? segmentValue(p.segment === 'MSH' ? msh : pid, delimiters, { field: p.field, repetition: p.repetition ?? 1, component: p.component ?? 1, subcomponent: p.subcomponent ?? 1 })
        : this.get(p);
    this.header = readMessageHeader(read);
    this.patientId = readPatientIdentifier(read, pid === '' ? 0 : segmentRepetitions(pid, delimiters, 3));
  }

  /** Segment ids in message order. */
  get segmentIds(): readonly string[] {
    return this.reader.segmentIds;
  }

  /**
   * One value, unescaped (`\F\` reads as the field separator, `\X0D\` as CR…): '' when the
   * segment, field, repetition, component or subcomponent is absent. See FieldPath for the
   * text form, e.g. `PID-3(2).4.1` or `OBX[2]-5`.
   */
  get(path: FieldPath | string): string {
    return this.reader.value(toValueAddress(path));
  }

  /** How many times a segment id occurs. */
  count(segmentId: string): number {
    return this.reader.count(segmentId);
  }

  /** How many repetitions a field has (0 when it is empty or absent). */
  repetitionCount(path: FieldPath | string): number {
    return this.reader.repetitionCount(toValueAddress(path));
  }
}
