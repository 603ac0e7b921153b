import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, MllpDecoder, type MllpEvent } from '../src/index.js';
import { Random } from './support/random.js';

const VT = 0x0b;
const FS = 0x1c;

/** Payload bytes: anything but the two framing bytes. */
const payloadByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== VT && b !== FS);
const payload = fc.array(payloadByte, { maxLength: 300 }).map((a) => Buffer.from(a));
/** Garbage between frames: anything but a start block (which would begin a frame). */
const garbage = fc.array(fc.integer({ min: 0, max: 255 }).filter((b) => b !== VT), { maxLength: 20 }).map((a) => Buffer.from(a));

function split(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(data.subarray(from, p));
    from = p;
  }
  parts.push(data.subarray(from));
  return parts;
}

describe('MLLP framing properties', () => {
  it('valid frames, with garbage between them, split anywhere, yield each payload exactly once, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(garbage, payload), { maxLength: 12 }),
        garbage,
        fc.array(fc.nat(), { maxLength: 30 }),
        (items, tail, cuts) => {
          const wire = Buffer.concat([...items.flatMap(([g, p]) => [g, encodeFrame(p)]), tail]);
          const d = new MllpDecoder();
          const events = split(wire, cuts).flatMap((chunk) => d.push(chunk));
          events.push(...d.end());
          const frames = events.filter((e) => e.type === 'frame').map((e) => e.payload);
          expect(frames).toEqual(items.map(([, p]) => p));
          expect(events.filter((e) => e.type === 'discarded' || e.type === 'oversize')).toEqual([]);
          const garbageBytes = events.reduce((n, e) => n + (e.type === 'garbage' ? e.bytes : 0), 0);
          expect(garbageBytes).toBe(items.reduce((n, [g]) => n + g.length, 0) + tail.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('fuzz: 100,000 random byte strings never throw, stay within the limit, and a valid frame after them is decoded', () => {
    const random = new Random(0x5eed);
    const limit = 512;
    const d = new MllpDecoder({ maxFrameBytes: limit });
    let maxBuffered = 0;
    const lost: number[] = []; // iterations whose valid frame did not come out exactly once
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      // mostly short noise dense in framing bytes; sometimes a long run with few, to pass the limit
      const noise = random.chance(0.05) ? random.bytes(random.int(2000), 0.002) : random.bytes(random.int(64));
      for (const chunk of random.chunks(noise, 32)) {
        for (const e of d.push(chunk)) seen.add(e.type === 'discarded' ? `discarded:${e.reason}` : e.type);
        maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
      }
      const valid = Buffer.from(`MSH|^~\\&|FUZZ|${i}`);
      const events: MllpEvent[] = random.chunks(encodeFrame(valid), 16).flatMap((chunk) => d.push(chunk));
      const frames = events.filter((e) => e.type === 'frame');
      if (frames.length !== 1 || !frames[0]?.payload.equals(valid) || d.bufferedBytes !== 0) lost.push(i);
    }
    expect(lost).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(limit);
    // the noise reached every incident the decoder has
    expect([...seen].sort()).toEqual(
      ['discarded:invalid-end-block', 'discarded:new-start-block', 'discarded:too-large', 'frame', 'garbage', 'oversize'].sort(),
    );
  });
});
