import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The public (MIT) synthetic sample messages shared beside the repository. */
export const SAMPLES_DIR = process.env.FICUS_HL7_SAMPLES ?? path.resolve(import.meta.dirname, '../../../../../shared/hl7-samples');

export interface Sample {
  readonly name: string;
  readonly bytes: Buffer;
}

export function loadSamples(): Sample[] {
  return readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.hl7'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(path.join(SAMPLES_DIR, name)) }));
}

export function sample(name: string): Buffer {
  return readFileSync(path.join(SAMPLES_DIR, name));
}

/** A message as UTF-8 bytes, each segment ended by CR. */
export function hl7(...segments: string[]): Buffer {
  return Buffer.from(segments.map((s) => s + '\r').join(''), 'utf8');
}
