/**
 * The adapter closing (as on SIGTERM) while a sender pipelines messages on one connection: the
 * frames already received are stored and answered before the connection closes, so every
 * message stored got its ACK on the wire; what came after the close began is neither stored nor
 * answered (the sender sends it again), and nothing in between is lost.
 */
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';

let a: AdapterUnderTest;
let db: pg.Client;
beforeAll(async () => {
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'legacy'), env: { HL7_MAX_QUEUED_FRAMES: '16' } });
  db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await a?.close();
});

describe('closing the adapter while a sender pipelines', () => {
  it('answers every message it stored before the connection closes, and stores nothing it does not answer', async () => {
    const ids = Array.from({ length: 3_000 }, (_, i) => `SHUT-${i}`);
    // the store held: frames are received and wait in hand when the close begins
    const blocker = new pg.Client({ connectionString: a.messageDb.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE hl7_messages IN ACCESS EXCLUSIVE MODE');
    const client = await MllpTestClient.open(a.adapter.port);
    client.write(Buffer.concat(ids.map((id, i) => encodeFrame(syntheticMessage({ controlId: id, mrn: `S${i % 5}` })))));
    await sleep(300);
    const closing = a.stop();
    await sleep(300);
    await blocker.query('ROLLBACK');
    await blocker.end();

    const answers: string[] = [];
    for (;;) {
      try {
        const ack = await client.next(15_000);
        answers.push(`${ack.get('MSA-1')} ${ack.get('MSA-2')}`);
      } catch {
        break; // the adapter closed the connection
      }
    }
    expect(client.closed).toBe(true);
    await closing;

    const stored = (await db.query<{ control_id: string }>("SELECT control_id FROM hl7_messages WHERE control_id LIKE 'SHUT-%' ORDER BY id")).rows.map((r) => r.control_id);
    // frames were in hand when the close began, and not all of them were taken
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(ids.length);
    // what was stored is what was sent first, with no gap, and each of them was answered, in order
    expect(stored).toEqual(ids.slice(0, stored.length));
    expect(answers).toEqual(stored.map((id) => `AA ${id}`));
  });
});
