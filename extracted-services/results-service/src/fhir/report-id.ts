/**
 * A DiagnosticReport's id: its patient and its order together. Order numbers (placer/filler)
 * are unique only within a patient or a facility, so the order alone named one report holding
 * two patients' results. `{mrn}-{order}` when both are FHIR id characters and fit (MRNs are
 * digits, so the first `-` ends the MRN); else `h-{mrn}-{hash of the order}`, or `h-{hash of
 * both}` for an MRN that is not digits. Ids of the old form (the order alone, `x-{hex}` for an
 * order that is not an id) are read as bare order numbers: see the read route.
 */
import { createHash } from 'node:crypto';

const MRN = /^[0-9]{1,20}$/;
const ORDER = /^[A-Za-z0-9\-.]+$/;
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
export const orderHash = (order: string) => sha(order).slice(0, 32);
export const reportHash = (mrn: string, order: string) => sha(`${mrn}\n${order}`).slice(0, 40);

export function reportId(mrn: string, order: string): string {
  if (!MRN.test(mrn)) return `h-${reportHash(mrn, order)}`;
  const plain = `${mrn}-${order}`;
  return ORDER.test(order) && plain.length <= 64 ? plain : `h-${mrn}-${orderHash(order)}`;
}

/** What an id of the current form names: the patient and order, or one of them hashed. */
export type ReportKey = { mrn: string; order: string } | { mrn: string; orderHash: string } | { hash: string };

export function parseReportId(id: string): ReportKey | undefined {
  let m = /^h-([0-9]{1,20})-([0-9a-f]{32})$/.exec(id);
  if (m) return { mrn: m[1]!, orderHash: m[2]! };
  m = /^h-([0-9a-f]{40})$/.exec(id);
  if (m) return { hash: m[1]! };
  m = /^([0-9]{1,20})-([A-Za-z0-9\-.]+)$/.exec(id);
  return m ? { mrn: m[1]!, order: m[2]! } : undefined;
}

/** The order number an id of the old form (order alone) named. */
export function legacyOrderOf(id: string): string | undefined {
  if (!id.startsWith('x-')) return id;
  const hex = id.slice(2);
  return /^([0-9a-f]{2})+$/.test(hex) ? Buffer.from(hex, 'hex').toString('utf8') : undefined;
}
