/**
 * Output back-pressure on a live connection: a sender that sends without reading its ACKs
 * makes the adapter stop reading once the ACKs fill the socket's buffers, so the backlog waits
 * in the sender's buffers and the kernel's, not in the adapter. Once the sender reads, every
 * ACK comes, in order, one per frame.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';

let a: AdapterUnderTest;
beforeAll(async () => {
  a = await startAdapterUnderTest({
    files: hl7Rules('mllp://127.0.0.1:9', 'legacy'),
    env: { HL7_MAX_QUEUED_FRAMES: '8', HL7_IDLE_TIMEOUT_MS: '600000' },
  });
});
afterAll(async () => {
  await a?.close();
});

const FRAMES = 2_000;
/** the AR echoes MSH-5 as its MSH-3: each answer is this large, and nothing is stored for it */
const LONG_RECEIVER = 'R'.repeat(32 * 1024);

/** A frame refused (MSH-11 X is no processing id) whose AR is large. */
const refusedFrame = (controlId: string) =>
  encodeFrame(`MSH|^~\\&|SND|FAC|${LONG_RECEIVER}|RFAC|20260101120000||ADT^A08|${controlId}|X|2.5\rPID|1||100001^^^FAC^MR\r`);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${a.apiUrl}/metrics`)).text();
  const re = new RegExp(`^${name} (\\d+)$`, 'm');
  return Number(re.exec(text)?.[1] ?? 0);
}

/** The ARs the adapter has built so far: one per frame it handled. */
const handled = () => metric('ficus_hl7_acks_total\\{code="AR"\\}');

describe('a sender that does not read its ACKs', () => {
  it('is no longer read once its ACKs fill the buffers, then gets every ACK in order when it reads', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(a.adapter.port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    // not reading: the kernel's receive buffer fills, then the adapter's socket cannot write
    socket.pause();
    const before = { handled: await handled(), backPressure: await metric('ficus_hl7_backpressure_total') };
    const ids = Array.from({ length: FRAMES }, (_, i) => `OBP-${i}`);
    for (const id of ids) socket.write(refusedFrame(id));

    // settled: the sender's unsent bytes stop shrinking (all sent, or the adapter stopped reading)
    let last = -1;
    await until(
      async () => {
        const now = socket.writableLength;
        const settled = now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 1_000));
        return settled ? true : undefined;
      },
      'the sender to stop making progress',
      120_000,
    );
    const handledWhileNotReading = (await handled()) - before.handled;
    // the adapter took only what the buffers hold, not the thousands of frames sent
    expect(handledWhileNotReading).toBeLessThan(FRAMES / 2);
    // the rest still waits on the sender's side
    expect(socket.writableLength).toBeGreaterThan(0);
    expect(await metric('ficus_hl7_backpressure_total')).toBeGreaterThan(before.backPressure);

    // the sender reads: every frame is answered, in order
    const decoder = new MllpDecoder({ maxFrameBytes: 1024 * 1024 });
    const answers: { code: string; controlId: string }[] = [];
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.type !== 'frame') continue;
        const d = decodeMessage(e.payload);
        answers.push(d.ok ? { code: d.message.get('MSA-1'), controlId: d.message.get('MSA-2') } : { code: 'undecodable', controlId: '' });
      }
    });
    socket.resume();
    await until(() => (answers.length >= FRAMES ? true : undefined), 'every ACK', 180_000);
    // a little time for any answer too many
    await new Promise((r) => setTimeout(r, 300));
    expect(answers.length).toBe(FRAMES);
    expect(answers.every((x) => x.code === 'AR')).toBe(true);
    expect(answers.map((x) => x.controlId)).toEqual(ids);
    socket.end();
  }, 360_000);
});
