/**
 * Random mutations of the sample messages, through the whole path a listener takes: MLLP
 * framing, decoding (message or batch), and the ACK. Nothing may throw, every failure must be an
 * HL7 error the ACK can carry, every ACK must parse back with the right MSA-2, and a valid frame
 * after a mutated one must still come out whole.
 */
import { describe, expect, it } from 'vitest';
import {
  buildAck,
  decodeBatch,
  decodeMessage,
  encodeFrame,
  encodeMessageBytes,
  HL7_ERROR_TEXT,
  MllpDecoder,
  type AckSubject,
  type Hl7Error,
} from '../src/index.js';
import { Random } from './support/random.js';
import { loadSamples } from './support/samples.js';

const INTERESTING = [...'|^~\\&#\r\n\x0b\x1c'].map((c) => c.charCodeAt(0)).concat([0x00, 0xff, 0xc3, 0xef, 0xbb, 0xbf, 0xfe, 0x20]);

function mutate(random: Random, input: Buffer): Buffer {
  let b = input;
  for (let n = 1 + random.int(5); n > 0; n--) {
    const at = random.int(b.length + 1);
    switch (random.int(7)) {
      case 0: // overwrite a byte
        b = Buffer.concat([b.subarray(0, at), Buffer.of(random.chance(0.5) ? random.pick(INTERESTING) : random.int(256)), b.subarray(at + 1)]);
        break;
      case 1: // insert a byte
        b = Buffer.concat([b.subarray(0, at), Buffer.of(random.pick(INTERESTING)), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + random.int(64))]);
        break;
      case 3: // duplicate a range
        b = Buffer.concat([b.subarray(0, at + 64), b.subarray(at, at + 64), b.subarray(at + 64)]);
        break;
      case 4: // cut short
        b = b.subarray(0, at);
        break;
      case 5: // a header segment where none belongs
        b = Buffer.concat([b.subarray(0, at), Buffer.from(random.pick(['\rMSH|', 'MSH|', '\rBHS|^~\\&\r', '\rBTS|', '\r\r'])), b.subarray(at)]);
        break;
      default: // another line ending
        b = Buffer.from(b.toString('latin1').replace(/\r?\n|\r/g, random.pick(['\r', '\n', '\r\n'])), 'latin1');
    }
  }
  return b;
}

function checkError(e: Hl7Error): void {
  if (!(e.code in HL7_ERROR_TEXT) || e.text !== HL7_ERROR_TEXT[e.code] || e.message === '') throw new Error(`malformed error ${JSON.stringify(e)}`);
}

/**
 * The ACK for a subject must decode, and carry its control id in MSA-2. It echoes the header as
 * sent, a NUL too (MSA-2 is MSH-10 as sent), which decoding refuses as data to keep: such an ACK
 * is decoded with its NULs read as SUB (0x1A, in every charset).
 */
function checkAck(subject: AckSubject, error?: Hl7Error): void {
  const ack = buildAck(subject, error ? 'AR' : 'AA', error ? { error } : {});
  const r = decodeMessage(encodeMessageBytes(ack.text.replaceAll('\0', '\x1a'), ack.charset));
  if (!r.ok) throw new Error(`ACK does not decode: ${r.error.message}\n${JSON.stringify(ack.text)}`);
  if (r.message.get('MSA-2') !== (subject.header?.controlId ?? '').replaceAll('\0', '\x1a')) throw new Error(`MSA-2 wrong in ${JSON.stringify(ack.text)}`);
}

describe('fuzz: mutated sample messages', () => {
  it('10,000 mutations: framing, decoding and ACKs never throw and stay consistent', () => {
    const samples = loadSamples().map((s) => s.bytes);
    const random = new Random(0xf1c05);
    const mllp = new MllpDecoder({ maxFrameBytes: 16 * 1024 });
    const outcomes = { ok: 0, failed: 0, batches: 0 };
    for (let i = 0; i < 10_000; i++) {
      const original = random.pick(samples);
      const bytes = mutate(random, original);

      const r = decodeMessage(bytes);
      if (r.ok) {
        outcomes.ok++;
        checkAck(r.message);
      } else {
        outcomes.failed++;
        checkError(r.error);
        checkAck(r.received, r.error);
      }
      // as a batch too (bare MSH … MSH is one); each message in it must be answerable
      const b = decodeBatch(random.chance(0.3) ? Buffer.concat([Buffer.from('BHS|^~\\&\r'), bytes]) : bytes);
      if (b.ok) {
        outcomes.batches++;
        for (const m of b.batch.messages) if (!m.ok) checkError(m.error);
      } else {
        checkError(b.error);
      }

      // the mutated bytes as a frame (they may hold framing bytes themselves), then a valid one
      for (const chunk of random.chunks(Buffer.concat([Buffer.of(0x0b), bytes, Buffer.of(0x1c, 0x0d)]), 4096)) mllp.push(chunk);
      const events = random.chunks(encodeFrame(original), 4096).flatMap((chunk) => mllp.push(chunk));
      const frames = events.filter((e) => e.type === 'frame');
      if (frames.length !== 1 || !frames[0]?.payload.equals(original)) throw new Error(`valid frame lost after mutation ${i}`);
      if (mllp.bufferedBytes !== 0) throw new Error('bytes left buffered after a complete frame');
    }
    // the mutations reached both outcomes, and batches
    expect(outcomes.ok).toBeGreaterThan(1000);
    expect(outcomes.failed).toBeGreaterThan(1000);
    expect(outcomes.batches).toBeGreaterThan(1000);
  });

  it('random bytes are refused, never thrown on', () => {
    const random = new Random(0xbad);
    for (let i = 0; i < 5_000; i++) {
      const bytes = random.chance(0.5) ? random.bytes(random.int(200), 0.05) : Buffer.concat([Buffer.from('MSH|^~\\&|'), random.bytes(random.int(200), 0.05)]);
      const r = decodeMessage(bytes);
      if (!r.ok) {
        checkError(r.error);
        checkAck(r.received, r.error);
      }
      const b = decodeBatch(bytes);
      if (!b.ok) checkError(b.error);
    }
  });
});
