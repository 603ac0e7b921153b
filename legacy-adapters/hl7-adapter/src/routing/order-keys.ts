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
 * The other patients a message involves, in the same form: PID-3 (its MRN repetition) of every
 * PID after the first (an ORU may carry several patients' results, an A40 several pairs) and
 * MRG-1 of every MRG (a merge's merged-away patients). Their earlier messages travel in their own
 * lanes: the message must not overtake them, and their later messages must not overtake it.
 * (Until 2026-12-06 only merges named them: a multi-patient ORU went in its first patient's lane
 * alone, and its second patient's final result could be applied before that patient's preliminary
 * one held in its own lane, which then showed as the newest.)
 */
export function otherPatientKeysOf(m: Hl7Message): string[] {
  const first = patientKeyOf(m);
  const keys = new Set<string>();
  for (let n = 1; n <= m.count('MRG'); n++) {
    const id = m.get(`MRG[${n}]-1(${mrnRepetitionOf(m, 'MRG', n, 1) || 1}).1`).trim();
    if (id !== '') keys.add(id);
  }
  for (let n = 2; n <= m.count('PID'); n++) {
    const id = m.get(`PID[${n}]-3(${mrnRepetitionOf(m, 'PID', n, 3) || 1}).1`).trim();
    if (id !== '') keys.add(id);
  }
  if (first !== null) keys.delete(first);
  return [...keys];
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
