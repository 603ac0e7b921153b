/**
 * Fuzzing the live listener: 100,000 random byte strings (framed, and loose between frames)
 * and 3,000 mutated sample messages. The listener never falls over; every frame that is not
 * HL7 is answered AR (CR in enhanced mode) with an ERR segment, loose bytes are framed out,
 * and the same connection still takes the next valid message.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { sampleBytes, sampleFiles } from '../../../test-support/hl7-samples.js';

let a: AdapterUnderTest;
beforeAll(async () => {
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'legacy') });
});
afterAll(() => a?.close());

const strip = (b: Uint8Array) => Buffer.from(b.filter((x) => x !== 0x0b && x !== 0x1c));

describe('fuzzing the MLLP listener', () => {
  // generous time limits: these send 100,000 and 6,000 frames through a shared machine
  it('100,000 random byte strings: each framed one refused with an ERR, loose ones skipped, the connection still works', { timeout: 240_000 }, async () => {
    const rng = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 120 }), { numRuns: 100_000, seed: 20261125 });
    const client = await MllpTestClient.open(a.adapter.port);
    let framed = 0;
    const batchSize = 2_000;
    for (let start = 0; start < rng.length; start += batchSize) {
      const chunk: Buffer[] = [];
      rng.slice(start, start + batchSize).forEach((bytes, i) => {
        // half go in frames (never holding a block byte, so each is one frame), half go loose between frames
        if ((start + i) % 2 === 0) {
          chunk.push(encodeFrame(strip(bytes)));
          framed++;
        } else chunk.push(strip(bytes));
      });
      client.write(Buffer.concat(chunk));
      const expected = chunk.filter((c) => c[0] === 0x0b).length;
      for (let k = 0; k < expected; k++) {
        const ack = await client.next(20_000);
        expect(['AR', 'CR']).toContain(ack.get('MSA-1'));
        expect(ack.get('ERR-3.1') || ack.get('ERR-1.4.1')).toMatch(/^\d{3}$/);
      }
    }
    expect(framed).toBe(50_000);
    const ok = await client.send(syntheticMessage({ controlId: 'AFTER-FUZZ', mrn: 'M1' }));
    expect(ok.get('MSA-1')).toBe('AA');
    client.close();
  });

  it('3,000 mutated sample messages: each answered at most once (refused, or taken when still valid), the connection keeps working after every one', { timeout: 240_000 }, async () => {
    const samples = sampleFiles().map(sampleBytes);
    const mutations = fc.sample(
      fc.record({
        sample: fc.nat(samples.length - 1),
        flips: fc.array(fc.record({ at: fc.nat(), to: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
        cut: fc.option(fc.nat()),
      }),
      { numRuns: 3_000, seed: 7 },
    );
    const client = await MllpTestClient.open(a.adapter.port);
    let answered = 0;
    for (const [i, m] of mutations.entries()) {
      const bytes = Buffer.from(samples[m.sample]!);
      for (const f of m.flips) bytes[f.at % bytes.length] = f.to;
      let payload = strip(m.cut === null ? bytes : bytes.subarray(0, m.cut % bytes.length));
      // a fresh control id where one can still be read, so a still-valid mutation is not a resend
      payload = Buffer.from(payload.toString('latin1').replace(/MSG\d{5}/, `MUT${i}`), 'latin1');
      // each mutation is followed by a valid probe: whatever comes before the probe's ACK is the
      // mutation's answer (none when the mutation asks for none, MSH-15 NE or ER)
      const probe = `PROBE${i}`;
      client.write(Buffer.concat([encodeFrame(payload), encodeFrame(syntheticMessage({ controlId: probe, mrn: 'M1' }))]));
      const before: string[] = [];
      for (;;) {
        const ack = await client.next(10_000);
        if (ack.get('MSA-2') === probe) {
          expect(ack.get('MSA-1')).toBe('AA');
          break;
        }
        before.push(ack.get('MSA-1'));
      }
      expect(before.length).toBeLessThanOrEqual(1);
      if (before.length === 1) {
        expect(['AA', 'AR', 'AE', 'CA', 'CR', 'CE']).toContain(before[0]);
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(2_500);
    const ok = await client.send(syntheticMessage({ controlId: 'AFTER-MUTATIONS', mrn: 'M1' }));
    expect(ok.get('MSA-1')).toBe('AA');
    client.close();
  });
});
