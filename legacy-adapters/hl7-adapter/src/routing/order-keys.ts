/**
 * The keys that decide a message's lane and its resend identity. A patient's messages share a
 * lane, so they reach each target in the order sent.
 *
 * The lane key is the MRN alone, trimmed, as legacy and the services identify the patient: one
 * sender writes `7132630^^^GENHOSP^MR` and another `7132630^^^^MR`, and with the assigning
 * authority in the key the two were two lanes, so an update could overtake the admission it
 * follows. Two facilities' patients that share a number now share a lane: it costs only
 * parallelism, never order.
 */
import { mrnRepetitionOf, type HierarchicDesignator, type Hl7Message } from '@ficus/hl7-protocol';

/** The patient's key: PID-3's MRN (the repetition typed MR, else the first), trimmed. */
export function patientKeyOf(m: Hl7Message): string | null {
  const id = m.patientId?.id.trim();
  return id ? id : null;
}

/**
 * A merge's other patient, in the same form: MRG-1 (its MRN repetition) of the first MRG. A
 * merge moves the records of that patient, whose earlier messages travel in its own lane.
 */
export function mergedPatientKeyOf(m: Hl7Message): string | undefined {
  if (m.count('MRG') === 0) return undefined;
  const r = mrnRepetitionOf(m, 'MRG', 1, 1) || 1;
  const id = m.get(`MRG-1(${r}).1`).trim();
  return id === '' ? undefined : id;
}

/**
 * The sending facility as the resend key names it: its namespace, or, for a facility given only
 * as a universal id (`^1.2.3^ISO`), that id, so that two such facilities are not one. (The
 * namespace alone when there is one, as the keys stored before this had it: a resend of a
 * message stored earlier is still recognised.)
 */
export function sendingFacilityKey(hd: HierarchicDesignator): string {
  return hd.namespaceId || (hd.universalId ? `^${hd.universalId}^${hd.universalIdType}` : '');
}
