/**
 * The two reconciliations, over the HTTP contract only (no database is read, so they work
 * against any legacy that speaks the contract):
 *
 * - patients: every MRN either side lists; per MRN the patient (GET /api/patients/{mrn}) and
 *   their stays (GET /api/encounters?mrn=, matched by admissionId);
 * - results: every MRN the legacy lists (results-service has no patient list), plus those
 *   patient-service lists when asked; per MRN the results (GET /api/results?mrn=, matched by
 *   resultId).
 *
 * With `mrns` given, listing is skipped and only those patients are compared. Each side sees
 * at most `concurrency` requests at once: a patient's requests to one side go one after the
 * other, the two sides in parallel.
 */
import { note } from '../output.js';
import type { IgnoreSpec } from './canonical.js';
import { forEachBounded } from './bounded.js';
import type { ContractClient } from './contract-client.js';
import { listMrns } from './listing.js';
import { EntityTally, type EntityFigures } from './tally.js';

export type ReconcileKind = 'patients' | 'results';

export interface ReconcileOptions {
  legacy: ContractClient;
  service: ContractClient;
  /** results only: also compare the patients patient-service lists */
  patientService?: ContractClient;
  /** compare these MRNs only, without listing */
  mrns?: string[];
  concurrency: number;
  sample: number;
  ignore: IgnoreSpec;
}

export interface ReconcileReport {
  kind: ReconcileKind;
  legacyUrl: string;
  serviceUrl: string;
  /** how many patients were compared */
  patients: number;
  entities: EntityFigures[];
  /** patients a side refused by their own URL (400): not compared, so the run is not clean */
  refused: { legacy: number; service: number };
  clean: boolean;
}

/** Patients' MRNs, sorted so that requests go out in a stable order. */
async function mrnsToCompare(sources: ContractClient[], o: ReconcileOptions): Promise<string[]> {
  if (o.mrns) return [...new Set(o.mrns)].sort();
  // the sides are listed at the same time: each has its own `concurrency` of requests
  const listings = await Promise.all(sources.map((s) => listMrns(s, o.concurrency)));
  const all = new Set<string>();
  listings.forEach((listed, i) => {
    if (listed.changed) note(`note: ${sources[i]!.system}'s patient list changed while it was read (${listed.total} announced, ${listed.mrns.size} listed)`);
    for (const m of listed.mrns) all.add(m);
  });
  return [...all].sort();
}

function report(kind: ReconcileKind, o: ReconcileOptions, patients: number, tallies: EntityTally[]): ReconcileReport {
  const entities = tallies.map((t) => t.figures());
  const refused = { legacy: o.legacy.refusedRecords, service: o.service.refusedRecords };
  for (const [side, c] of [['the legacy system', o.legacy], [o.service.system, o.service]] as const) {
    if (c.refusedRecords > 0) note(`note: ${side} refused ${c.refusedRecords} patient(s) it was asked for by MRN (400: an MRN outside the contract's format); they were not compared`);
  }
  const clean = refused.legacy + refused.service === 0 && entities.every((e) => e.checksumsMatch && e.onlyInLegacy === 0 && e.onlyInService === 0 && e.differing === 0);
  return { kind, legacyUrl: o.legacy.url, serviceUrl: o.service.url, patients, entities, refused, clean };
}

export async function reconcilePatients(o: ReconcileOptions): Promise<ReconcileReport> {
  const mrns = await mrnsToCompare([o.legacy, o.service], o);
  const patients = new EntityTally('patients', o.ignore, o.sample);
  const encounters = new EntityTally('encounters', o.ignore, o.sample);
  const side = async (c: ContractClient, mrn: string) => {
    const patient = await c.patient(mrn);
    // a patient unknown here has no stays here either (the contract answers 404)
    return { patient, encounters: patient === undefined ? [] : await c.encounters(mrn) };
  };
  await forEachBounded(mrns, o.concurrency, async (mrn) => {
    const [a, b] = await Promise.all([side(o.legacy, mrn), side(o.service, mrn)]);
    patients.add({ mrn }, a.patient, b.patient);
    encounters.addAll(mrn, 'admissionId', a.encounters, b.encounters);
  });
  return report('patients', o, mrns.length, [patients, encounters]);
}

export async function reconcileResults(o: ReconcileOptions): Promise<ReconcileReport> {
  const mrns = await mrnsToCompare(o.patientService ? [o.legacy, o.patientService] : [o.legacy], o);
  const results = new EntityTally('results', o.ignore, o.sample);
  await forEachBounded(mrns, o.concurrency, async (mrn) => {
    const [a, b] = await Promise.all([o.legacy.results(mrn), o.service.results(mrn)]);
    results.addAll(mrn, 'resultId', a, b);
  });
  return report('results', o, mrns.length, [results]);
}
