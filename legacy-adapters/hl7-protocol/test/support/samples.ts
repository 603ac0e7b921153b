import { SAMPLES_DIR, sampleBytes, sampleFiles } from '../../../../test-support/hl7-samples.js';

export { SAMPLES_DIR };

export interface Sample {
  readonly name: string;
  readonly bytes: Buffer;
}

export function loadSamples(): Sample[] {
  return sampleFiles().map((name) => ({ name, bytes: sampleBytes(name) }));
}

export function sample(name: string): Buffer {
  return sampleBytes(name);
}

/** A message as UTF-8 bytes, each segment ended by CR. */
export function hl7(...segments: string[]): Buffer {
  return Buffer.from(segments.map((s) => s + '\r').join(''), 'utf8');
}
