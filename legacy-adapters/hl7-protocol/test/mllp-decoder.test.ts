import { describe, expect, it } from 'vitest';
import { encodeFrame, MllpDecoder, type MllpEvent } from '../src/index.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

function frames(events: MllpEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'frame' ? [e.payload.toString('latin1')] : []));
}

function incidents(events: MllpEvent[]): Exclude<MllpEvent, { type: 'frame' }>[] {
  return events.filter((e): e is Exclude<MllpEvent, { type: 'frame' }> => e.type !== 'frame');
}

describe('encodeFrame', () => {
  it('wraps a payload in 0x0B … 0x1C 0x0D', () => {
    expect([...encodeFrame('MSH|x')]).toEqual([VT, ...Buffer.from('MSH|x'), FS, CR]);
    expect([...encodeFrame(Buffer.from([1, 2]))]).toEqual([VT, 1, 2, FS, CR]);
    expect([...encodeFrame('')]).toEqual([VT, FS, CR]);
  });

  it('refuses a payload that holds a framing byte, which would arrive cut in two', () => {
    expect(() => encodeFrame(Buffer.from([0x41, FS, CR, 0x42]))).toThrow(RangeError);
    expect(() => encodeFrame('a\x0bb')).toThrow(RangeError);
  });
});

describe('MllpDecoder', () => {
  it('decodes several frames in one chunk, in order', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([encodeFrame('one'), encodeFrame('two'), encodeFrame('three')]));
    expect(events).toEqual([
      { type: 'frame', payload: Buffer.from('one') },
      { type: 'frame', payload: Buffer.from('two') },
      { type: 'frame', payload: Buffer.from('three') },
    ]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes a frame split byte by byte, including between 0x1C and 0x0D', () => {
    const d = new MllpDecoder();
    const wire = Buffer.concat([encodeFrame('MSH|^~\\&|A'), encodeFrame('MSH|^~\\&|B')]);
    const events = [...wire].flatMap((b) => d.push(Buffer.of(b)));
    expect(events).toEqual([
      { type: 'frame', payload: Buffer.from('MSH|^~\\&|A') },
      { type: 'frame', payload: Buffer.from('MSH|^~\\&|B') },
    ]);
  });

  it('holds a partial frame until the rest arrives, and no longer', () => {
    const d = new MllpDecoder();
    expect(d.push(Buffer.from('\x0bMSH|part one '))).toEqual([]);
    expect(d.bufferedBytes).toBe(13);
    expect(frames(d.push(Buffer.from('and two\x1c')))).toEqual([]);
    expect(frames(d.push(Buffer.from('\r\x0bnext')))).toEqual(['MSH|part one and two']);
    expect(d.bufferedBytes).toBe(4);
  });

  it('a delivered payload is a copy: reusing the chunk does not change it', () => {
    const d = new MllpDecoder();
    const chunk = encodeFrame('abc');
    const [event] = d.push(chunk);
    chunk.fill(0);
    expect(event).toEqual({ type: 'frame', payload: Buffer.from('abc') });
  });

  it('skips and counts bytes before a start block, never reading them as a message', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), encodeFrame('MSH|real')]));
    expect(events).toEqual([
      { type: 'garbage', bytes: 18 },
      { type: 'frame', payload: Buffer.from('MSH|real') },
    ]);
    // garbage alone is reported at the end of each push, so a peer sending only garbage is seen
    expect(d.push(Buffer.from('\r\n'))).toEqual([{ type: 'garbage', bytes: 2 }]);
    expect(d.push(Buffer.from([FS, CR]))).toEqual([{ type: 'garbage', bytes: 2 }]);
  });

  it('a new start block inside an unfinished frame discards that frame and starts over', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([Buffer.from('\x0bMSH|lost half'), encodeFrame('MSH|whole')]));
    expect(events).toEqual([
      { type: 'discarded', reason: 'new-start-block', bytes: 13 },
      { type: 'frame', payload: Buffer.from('MSH|whole') },
    ]);
  });

  it('a 0x1C not followed by 0x0D discards the frame rather than cutting a message short', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([Buffer.from('\x0bMSH|first part\x1cMSH|second part\x1c\r'), encodeFrame('MSH|next')]));
    expect(events).toEqual([
      { type: 'discarded', reason: 'invalid-end-block', bytes: 14 },
      { type: 'garbage', bytes: 17 },
      { type: 'frame', payload: Buffer.from('MSH|next') },
    ]);
  });

  it('a 0x1C directly followed by a start block discards the frame and decodes the next', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([Buffer.from('\x0bMSH|no cr\x1c'), encodeFrame('MSH|next')]));
    expect(events).toEqual([
      { type: 'discarded', reason: 'invalid-end-block', bytes: 9 },
      { type: 'frame', payload: Buffer.from('MSH|next') },
    ]);
  });

  it('an empty frame is delivered as an empty payload (the message decoder then rejects it)', () => {
    expect(new MllpDecoder().push(encodeFrame(''))).toEqual([{ type: 'frame', payload: Buffer.alloc(0) }]);
  });

  it('reports an unfinished frame and trailing garbage when the connection ends', () => {
    const d = new MllpDecoder();
    d.push(Buffer.from('\x0bMSH|unfinished'));
    expect(d.end()).toEqual([{ type: 'discarded', reason: 'connection-ended', bytes: 14 }]);
    expect(d.bufferedBytes).toBe(0);
    d.push(Buffer.from('\x0bx\x1c'));
    expect(d.end()).toEqual([{ type: 'discarded', reason: 'connection-ended', bytes: 1 }]);
    expect(d.end()).toEqual([]);
  });

  describe('oversize frames', () => {
    it('accepts a frame of exactly the limit', () => {
      const d = new MllpDecoder({ maxFrameBytes: 10 });
      expect(frames(d.push(encodeFrame('0123456789')))).toEqual(['0123456789']);
    });

    it('reports oversize as soon as the limit is passed, with the head of the frame, and buffers nothing more', () => {
      const d = new MllpDecoder({ maxFrameBytes: 16 });
      expect(d.push(Buffer.from('\x0bMSH|^~\\&|A|B|'))).toEqual([]);
      const events = d.push(Buffer.from('C|D|E|F|G'));
      expect(events).toEqual([{ type: 'oversize', limit: 16, head: Buffer.from('MSH|^~\\&|A|B|C|D') }]);
      expect(d.bufferedBytes).toBe(0);
      expect(d.push(Buffer.alloc(100_000, 0x41))).toEqual([]);
      expect(d.bufferedBytes).toBe(0);
      // the rest is skipped up to the end block; the frame after it is decoded as usual
      const after = d.push(Buffer.concat([Buffer.from([FS, CR]), encodeFrame('MSH|ok')]));
      expect(after).toEqual([
        { type: 'discarded', reason: 'too-large', bytes: 13 + 9 + 100_000 },
        { type: 'frame', payload: Buffer.from('MSH|ok') },
      ]);
    });

    it('an oversize frame that arrives in one chunk is reported once', () => {
      const d = new MllpDecoder({ maxFrameBytes: 4 });
      const events = d.push(Buffer.concat([encodeFrame('far too long'), encodeFrame('ok')]));
      expect(events.map((e) => e.type)).toEqual(['oversize', 'discarded', 'frame']);
      expect(events[0]).toEqual({ type: 'oversize', limit: 4, head: Buffer.from('far ') });
    });

    it('a start block ends the skipping of an oversize frame', () => {
      const d = new MllpDecoder({ maxFrameBytes: 4 });
      const events = d.push(Buffer.concat([Buffer.from('\x0bfar too long'), encodeFrame('ok')]));
      expect(incidents(events)).toEqual([
        { type: 'oversize', limit: 4, head: Buffer.from('far ') },
        { type: 'discarded', reason: 'too-large', bytes: 12 },
      ]);
      expect(frames(events)).toEqual(['ok']);
    });

    it('never holds more than the limit while a large frame trickles in', () => {
      const limit = 64 * 1024;
      const d = new MllpDecoder({ maxFrameBytes: limit });
      d.push(Buffer.of(VT));
      let maxHeld = 0;
      for (let i = 0; i < 2000; i++) {
        d.push(Buffer.alloc(100, 0x41));
        maxHeld = Math.max(maxHeld, d.bufferedBytes);
      }
      expect(maxHeld).toBeLessThanOrEqual(limit);
      expect(d.bufferedBytes).toBe(0);
    });

    it('refuses a limit that is not a positive integer', () => {
      expect(() => new MllpDecoder({ maxFrameBytes: 0 })).toThrow(RangeError);
      expect(() => new MllpDecoder({ maxFrameBytes: 1.5 })).toThrow(RangeError);
    });
  });

  it('decodes a large frame pushed in many small chunks, whole', () => {
    // (its cost is measured by the hl7 benchmark, not timed here)
    const payload = Buffer.alloc(4 * 1024 * 1024, 0x41);
    const wire = encodeFrame(payload);
    const d = new MllpDecoder();
    let got: MllpEvent[] = [];
    for (let i = 0; i < wire.length; i += 1024) got = got.concat(d.push(wire.subarray(i, i + 1024)));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ type: 'frame' });
    expect((got[0] as { payload: Buffer }).payload.equals(payload)).toBe(true);
  });
});
