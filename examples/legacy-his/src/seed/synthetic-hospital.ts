/**
 * The whole synthetic hospital, produced in batches of patients so that a large seed never
 * holds every row in memory. One PRNG drives everything in a fixed order: the same seed and
 * patient count give the same rows, batch after batch.
 */
import { ClinicalGenerator } from './generate-clinical.js';
import { generatePatient } from './generate-patient.js';
import { Prng } from './prng.js';
import type { SeedBatch } from './synthetic-rows.js';

export function* generateHospital(patientCount: number, seed: number, batchSize = 1000): Generator<SeedBatch> {
  const rng = new Prng(seed);
  const clinical = new ClinicalGenerator(rng);
  for (let first = 0; first < patientCount; first += batchSize) {
    const batch: SeedBatch = { patients: [], admissions: [], results: [] };
    for (let i = first; i < Math.min(first + batchSize, patientCount); i++) {
      const patient = generatePatient(rng, i);
      const history = clinical.historyFor(patient);
      const lastDischarge = history.admissions.at(-1)?.dschDt;
      if (history.expired && lastDischarge) {
        // the discharge interface closes the record of a patient who died
        patient.row.active = 'N';
        patient.row.lastUpdDt = lastDischarge > patient.row.lastUpdDt ? lastDischarge : patient.row.lastUpdDt;
        patient.row.lastUpdUser = 'ADT_IFACE';
      }
      batch.patients.push(patient.row);
      batch.admissions.push(...history.admissions);
      batch.results.push(...history.results);
    }
    yield batch;
  }
}
