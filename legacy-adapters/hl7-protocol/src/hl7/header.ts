/**
 * The MSH fields the adapter routes, stores and answers by, read as unescaped values, and the
 * checks that make a message unusable when they fail.
 */
import { hl7Error, type Hl7Error } from './errors.js';
import type { FieldPath } from './field-path.js';

/** HD: namespace id ^ universal id ^ universal id type (MSH-3 to -6, PID-3.4). */
export interface HierarchicDesignator {
  readonly namespaceId: string;
  readonly universalId: string;
  readonly universalIdType: string;
}

export interface MessageHeader {
  readonly sendingApplication: HierarchicDesignator; // MSH-3
  readonly sendingFacility: HierarchicDesignator; // MSH-4
  readonly receivingApplication: HierarchicDesignator; // MSH-5
  readonly receivingFacility: HierarchicDesignator; // MSH-6
  readonly dateTime: string; // MSH-7.1, as written
  readonly messageType: string; // MSH-9.1
  readonly triggerEvent: string; // MSH-9.2
  readonly messageStructure: string; // MSH-9.3
  readonly controlId: string; // MSH-10
  readonly processingId: string; // MSH-11.1 (table 0103)
  readonly processingMode: string; // MSH-11.2
  readonly version: string; // MSH-12.1
  readonly acceptAckType: string; // MSH-15 (table 0155)
  readonly applicationAckType: string; // MSH-16 (table 0155)
  readonly characterSet: string; // MSH-18, first repetition, as declared ('' when absent)
}

/** PID-3, the MRN's repetition (mrnRepetition): CX id ^^^ assigning authority (HD, as subcomponents) ^ id type. */
export interface PatientIdentifier {
  readonly id: string;
  readonly assigningAuthority: HierarchicDesignator;
  readonly identifierTypeCode: string;
}

export type ValueReader = (path: FieldPath) => string;

export function readHierarchicDesignator(read: ValueReader, segment: string, field: number): HierarchicDesignator {
  return {
    namespaceId: read({ segment, field, component: 1 }),
    universalId: read({ segment, field, component: 2 }),
    universalIdType: read({ segment, field, component: 3 }),
  };
}

/**
 * Coded fields are trimmed (a sender writing MSH-15 as a single space means "empty"); the
 * control id and the designators are kept exactly, since they are echoed and matched.
 */
export function readMessageHeader(read: ValueReader): MessageHeader {
  const exact = (field: number, component = 1) => read({ segment: 'MSH', field, component });
  const msh = (field: number, component = 1) => exact(field, component).trim();
  return {
    sendingApplication: readHierarchicDesignator(read, 'MSH', 3),
    sendingFacility: readHierarchicDesignator(read, 'MSH', 4),
    receivingApplication: readHierarchicDesignator(read, 'MSH', 5),
    receivingFacility: readHierarchicDesignator(read, 'MSH', 6),
    dateTime: exact(7),
    messageType: msh(9, 1),
    triggerEvent: msh(9, 2),
    messageStructure: msh(9, 3),
    controlId: exact(10),
    processingId: msh(11, 1),
    processingMode: msh(11, 2),
    version: msh(12),
    acceptAckType: msh(15),
    applicationAckType: msh(16),
    characterSet: msh(18),
  };
}

/**
 * The fields a refusal names (who sent it to whom, which message, in which version). MSH-15 and
 * -16 are left out: valued, they would turn the AR into a commit ACK, and a message whose
 * header cannot be parsed is answered AR.
 */
const LOOSE_FIELDS: ReadonlySet<number> = new Set([3, 4, 5, 6, 9, 10, 11, 12]);

/**
 * The header of an MSH whose encoding characters are unusable (too few, one repeated), read only
 * so that its refusal can name it: fields split by the field separator, components by ^ only
 * when MSH-2 holds it (else a field is read whole), nothing unescaped, since which character
 * escapes is unknown.
 */
export function readHeaderLoosely(msh: string, fieldSeparator: string): MessageHeader {
  // fields[0] is the segment id and fields[1] MSH-2: MSH-n is fields[n - 1]
  const fields = msh.split(fieldSeparator);
  const split = (fields[1] ?? '').includes('^');
  return readMessageHeader(({ field, component = 1 }) => {
    if (!LOOSE_FIELDS.has(field)) return '';
    const value = fields[field - 1] ?? '';
    if (!split) return component === 1 ? value : '';
    return value.split('^')[component - 1] ?? '';
  });
}

/** The assigning authorities (CX-4 namespace or universal id, upper case) whose MRNs are this hospital's; empty: any. */
let ownAuthorities: ReadonlySet<string> = new Set();

/**
 * Names the assigning authorities of this hospital's MRNs (HL7_MRN_AUTHORITIES), for every
 * reader in this process. A feed from an HIE or another interface engine lists each facility's
 * MR (`7492858^^^OTHERHOSP^MR~7472272^^^GENHOSP^MR`): without this, the first is taken, and a
 * message would be applied to whichever patient holds OTHERHOSP's number here.
 */
export function preferMrnAuthorities(authorities: readonly string[]): void {
  ownAuthorities = new Set(authorities.map((a) => a.trim().toUpperCase()).filter((a) => a !== ''));
}

/**
 * Which repetition of an identifier list (PID-3, MRG-1: CX) is the patient's medical record
 * number: the first whose identifier type (CX-5) is MR; without one, the first. Senders put
 * other identifiers (a national id, an account or insurance number) beside the MRN and not
 * always after it, and a national id of 6 to 10 digits would pass for an MRN: the message
 * would be applied to another patient. With this hospital's authorities named
 * (preferMrnAuthorities), an MR repetition of another authority is never it: the first MR of
 * an own authority, else the first MR that names none, else 0 (the list holds no MRN of ours).
 * `cx(repetition, component, subcomponent)` reads the list of `count`.
 */
export function mrnRepetition(cx: (repetition: number, component: number, subcomponent: number) => string, count: number): number {
  if (ownAuthorities.size === 0) {
    for (let r = 1; r <= count; r++) if (cx(r, 5, 1).trim().toUpperCase() === 'MR') return r;
    return 1;
  }
  let unnamed = 0;
  let typedMr = false;
  for (let r = 1; r <= count; r++) {
    if (cx(r, 5, 1).trim().toUpperCase() !== 'MR') continue;
    typedMr = true;
    const namespace = cx(r, 4, 1).trim().toUpperCase();
    const universal = cx(r, 4, 2).trim().toUpperCase();
    if (ownAuthorities.has(namespace) || ownAuthorities.has(universal)) return r;
    if (namespace === '' && universal === '' && unnamed === 0) unnamed = r;
  }
  if (unnamed > 0 || typedMr) return unnamed;
  // nothing typed MR: the first, unless it names another authority
  const namespace = cx(1, 4, 1).trim().toUpperCase();
  const universal = cx(1, 4, 2).trim().toUpperCase();
  return (namespace === '' && universal === '') || ownAuthorities.has(namespace) || ownAuthorities.has(universal) ? 1 : 0;
}

/** PID-3 (its MRN's repetition) of the first PID, whose PID-3 has `repetitions` */
export function readPatientIdentifier(read: ValueReader, repetitions: number): PatientIdentifier | undefined {
  // no MRN of this hospital's (0): the first, so that the lane is still one per listed patient
  const repetition = mrnRepetition((r, component, subcomponent) => read({ segment: 'PID', field: 3, repetition: r, component, subcomponent }), repetitions) || 1;
  const pid3 = (component: number, subcomponent = 1) => read({ segment: 'PID', field: 3, repetition, component, subcomponent });
  const id = pid3(1);
  if (id === '') return undefined;
  return {
    id,
    assigningAuthority: {
      namespaceId: pid3(4, 1),
      universalId: pid3(4, 2),
      universalIdType: pid3(4, 3),
    },
    identifierTypeCode: pid3(5),
  };
}

export const PROCESSING_IDS: ReadonlySet<string> = new Set(['P', 'D', 'T']); // table 0103
/** An HL7 v2 version id: 2.1 … 2.9, with an optional third part (2.5.1). */
export const VERSION = /^2\.\d{1,2}(\.\d{1,2})?$/;
const ACK_CONDITIONS = new Set(['AL', 'NE', 'ER', 'SU']); // table 0155

/**
 * The first problem that makes the header unusable, in field order. MSH-11 and MSH-12 are
 * checked only when present: some senders leave them empty, and the ACK has fallbacks.
 */
export function checkMessageHeader(h: MessageHeader): Hl7Error | undefined {
  const at = (field: number) => ({ segment: 'MSH', sequence: 1, field });
  if (h.messageType === '') return hl7Error(101, 'MSH-9 (message type) is required', at(9));
  if (h.controlId === '') return hl7Error(101, 'MSH-10 (message control id) is required', at(10));
  if (h.processingId !== '' && !PROCESSING_IDS.has(h.processingId)) {
    return hl7Error(202, 'MSH-11 (processing id) must be P, D or T (table 0103)', at(11));
  }
  if (h.version !== '' && !VERSION.test(h.version)) {
    return hl7Error(203, 'MSH-12 (version id) must be an HL7 v2 version such as 2.5.1', at(12));
  }
  if (h.acceptAckType !== '' && !ACK_CONDITIONS.has(h.acceptAckType)) {
    return hl7Error(103, 'MSH-15 (accept acknowledgment type) must be AL, NE, ER or SU (table 0155)', at(15));
  }
  if (h.applicationAckType !== '' && !ACK_CONDITIONS.has(h.applicationAckType)) {
    return hl7Error(103, 'MSH-16 (application acknowledgment type) must be AL, NE, ER or SU (table 0155)', at(16));
  }
  return undefined;
}
