/**
 * The keys that decide a message's lane and its resend identity. A patient's messages share a
 * lane (PID-3's MRN and assigning authority), so they reach each target in the order sent.
 */
import { mrnRepetitionOf, type HierarchicDesignator, type Hl7Message } from '@ficus/hl7-protocol';

/** The patient's key: PID-3 (its MRN repetition) and assigning authority. */
export function patientKeyOf(m: Hl7Message): string | null {
  return m.patientId ? `${m.patientId.id}^${m.patientId.assigningAuthority.namespaceId}` : null;
}

/**
 * A merge's other patient, in the same form: MRG-1 (its MRN repetition) of the first MRG. A
 * merge moves the records of that patient, whose earlier messages travel in its own lane.
 */
export function mergedPatientKeyOf(m: Hl7Message): string | undefined {
  if (m.count('MRG') === 0) return undefined;
  const r = mrnRepetitionOf(m, 'MRG', 1, 1);
  const id = m.get(`MRG-1(${r}).1`);
  return id === '' ? undefined : `${id}^${m.get(`MRG-1(${r}).4.1`)}`;
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
