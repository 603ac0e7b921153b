/**
 * The public HL7v2 sample messages (Microsoft FHIR-Converter samples, MIT: see the licence
 * file beside them), copied into the repository so that a clone anywhere has them.
 * FICUS_HL7_SAMPLES points the tests at another folder of .hl7 files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SAMPLES_DIR = process.env.FICUS_HL7_SAMPLES ?? path.resolve(import.meta.dirname, 'hl7-samples');

/** The sample files' names (`ADT-A01-01.hl7`), sorted. */
export function sampleFiles(): string[] {
  return readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.hl7'))
    .sort();
}

export function sampleBytes(file: string): Buffer {
  return readFileSync(path.join(SAMPLES_DIR, file));
}
