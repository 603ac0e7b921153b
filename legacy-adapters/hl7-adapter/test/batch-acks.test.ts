/**
 * HL7_BATCH_ACK=batch, over a real MLLP connection to a real adapter: a batch frame gets one
 * answer frame, its ACKs inside an envelope like the sender's (FHS/BHS referencing the sent
 * control ids, BTS/FTS counting), a refused member answered AR in its place; the messages are
 * stored and delivered as ever; a single message still gets a plain ACK. An empty batch gets an
 * empty acknowledgement batch in either mode. A batch's message is kept and passed on as the
 * same message sent alone, in its charset (a Latin-1 batch, a UTF-8 one with a byte order mark).
 */
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, decodeMessage, encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { TestInbound } from './support/test-inbound.js';

const seg = (...s: string[]) => s.join('\r') + '\r';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const msh = (type: string, controlId: string) => `MSH|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||${type}|${controlId}|P|2.5`;

let inbound: TestInbound;
let a: AdapterUnderTest;

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy'), env: { HL7_BATCH_ACK: 'batch' } });
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
});

/** A raw sender that keeps every answer frame as bytes. */
async function rawSender(port: number): Promise<{ socket: Socket; frames: Buffer[] }> {
  const frames: Buffer[] = [];
  const decoder = new MllpDecoder();
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) if (e.type === 'frame') frames.push(Buffer.from(e.payload));
  });
  return { socket, frames };
}

describe('HL7_BATCH_ACK=batch', () => {
  it('answers a batch frame with one frame: the ACKs in an envelope like the sender\'s', async () => {
    const { socket, frames } = await rawSender(a.adapter.port);
    try {
      socket.write(
        encodeFrame(
          seg(
            'FHS|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||||FILE-42',
            'BHS|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||||BATCH-7',
            msh('ADT^A08^ADT_A01', 'BA-1'),
            'EVN|A08|20261206100000',
            'PID|1||8400001^^^GENHOSP^MR||BATCH^ONE',
            'MSH|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||ADT^A08^ADT_A01||P|2.5',
            'PID|1||8400002^^^GENHOSP^MR||BATCH^NOCONTROLID',
            msh('ADT^A08^ADT_A01', 'BA-3'),
            'EVN|A08|20261206100000',
            'PID|1||8400003^^^GENHOSP^MR||BATCH^THREE',
            'BTS|3',
            'FTS|1',
          ),
        ),
      );
      await until(() => (frames.length > 0 ? true : undefined), 'the answer to the batch');
      // a little time for any further frame that should not come
      await new Promise((r) => setTimeout(r, 500));
      expect(frames).toHaveLength(1);
      const decoded = decodeBatch(frames[0]!);
      if (!decoded.ok) throw new Error(decoded.error.message);
      const answer = decoded.batch;
      expect(answer.warnings).toEqual([]);
      expect(answer.fileHeader).toMatchObject({ sendingApplication: { namespaceId: 'HIS' }, receivingApplication: { namespaceId: 'REG' }, referenceControlId: 'FILE-42' });
      expect(answer.batches).toHaveLength(1);
      expect(answer.batches[0]?.header?.referenceControlId).toBe('BATCH-7');
      expect(answer.batches[0]?.trailer?.count).toBe('3');
      expect(answer.fileTrailer?.count).toBe('1');
      const acks = answer.messages.map((m) => (m.ok ? m.message : undefined));
      expect(acks.map((m) => [m?.get('MSH-9.1'), m?.get('MSA-1'), m?.get('MSA-2')])).toEqual([
        ['ACK', 'AA', 'BA-1'],
        ['ACK', 'AR', ''],
        ['ACK', 'AA', 'BA-3'],
      ]);
      expect(acks[1]?.get('ERR-3.1')).not.toBe('');

      // stored and delivered as ever
      for (const id of ['BA-1', 'BA-3']) expect((await api<{ messages: unknown[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${id}`)).body.messages).toHaveLength(1);
      await until(() => (['BA-1', 'BA-3'].every((id) => inbound.received.some((r) => r.controlId === id)) ? true : undefined), 'both delivered to legacy');

      // a single message on the same connection: a plain ACK frame
      socket.write(encodeFrame(seg(msh('ADT^A08^ADT_A01', 'BA-SINGLE'), 'EVN|A08|20261206100000', 'PID|1||8400004^^^GENHOSP^MR||SINGLE^ONE')));
      await until(() => (frames.length > 1 ? true : undefined), 'the answer to the single message');
      const single = decodeMessage(frames[1]!);
      expect(single.ok && [single.message.get('MSH-9.1'), single.message.get('MSA-1'), single.message.get('MSA-2')]).toEqual(['ACK', 'AA', 'BA-SINGLE']);
    } finally {
      socket.destroy();
    }
  });

  it('answers an empty batch (a keep-alive, a day with nothing to send) with an empty acknowledgement batch, in either answer mode', async () => {
    const plain = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
    try {
      for (const port of [a.adapter.port, plain.adapter.port]) {
        const { socket, frames } = await rawSender(port);
        try {
          socket.write(encodeFrame(seg('FHS|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||||FILE-EMPTY', 'BHS|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||||BATCH-EMPTY', 'BTS|0', 'FTS|1')));
          await until(() => (frames.length > 0 ? true : undefined), 'the answer to the empty batch');
          const decoded = decodeBatch(frames[0]!);
          if (!decoded.ok) throw new Error(decoded.error.message);
          expect(decoded.batch.messages).toEqual([]);
          expect(decoded.batch.fileHeader?.referenceControlId).toBe('FILE-EMPTY');
          expect(decoded.batch.batches[0]?.header?.referenceControlId).toBe('BATCH-EMPTY');
          expect(decoded.batch.batches[0]?.trailer?.count).toBe('0');
        } finally {
          socket.destroy();
        }
      }
    } finally {
      await plain.close();
    }
  });

  it('a Latin-1 batch, and a UTF-8 one with a byte order mark and MSH-18 8859/1: each message kept and passed on as if sent alone', async () => {
    const db = new pg.Client({ connectionString: a.messageDb.url });
    await db.connect();
    try {
      const member = (id: string, mrn: string, name: string) => seg(`${msh('ADT^A08^ADT_A01', id)}||||||8859/1`, 'EVN|A08|20261206100000', `PID|1||${mrn}^^^GENHOSP^MR||${name}`);
      const latin1 = Buffer.from(member('BL-1', '8400101', 'MÜLLER^JÖRG'), 'latin1');
      const utf8 = Buffer.from(member('BU-1', '8400102', 'MÜLLER^王'), 'utf8');
      const bhs = (id: string) => Buffer.from(seg(`BHS|^~\\&|REG|GENHOSP|HIS|GENHOSP|20261206100000||||${id}`));
      const frames = { 'BL-1': Buffer.concat([bhs('B-LATIN1'), latin1, Buffer.from(seg('BTS|1'))]), 'BU-1': Buffer.concat([BOM, bhs('B-BOM'), utf8, Buffer.from(seg('BTS|1'))]) };
      for (const [id, frame] of Object.entries(frames)) {
        const { socket, frames: answers } = await rawSender(a.adapter.port);
        try {
          socket.write(encodeFrame(frame));
          await until(() => (answers.length > 0 ? true : undefined), `the answer to ${id}`);
          const answer = decodeBatch(answers[0]!);
          expect(answer.ok && answer.batch.messages.map((m) => m.ok && m.message.get('MSA-1')), id).toEqual(['AA']);
        } finally {
          socket.destroy();
        }
      }
      const stored = async (id: string) => (await db.query<{ raw: Buffer }>('SELECT raw FROM hl7_messages WHERE control_id = $1', [id])).rows.map((r) => r.raw);
      expect(await stored('BL-1')).toEqual([latin1]);
      // the mark stays, as with a message sent alone: it says the bytes are UTF-8 whatever MSH-18 says
      expect(await stored('BU-1')).toEqual([Buffer.concat([BOM, utf8])]);
      for (const id of ['BL-1', 'BU-1']) {
        const got = await until(() => inbound.received.find((r) => r.controlId === id), `${id} at legacy`);
        // until 2026-12-07 legacy read the second as MÃ\u009cLLER: UTF-8 bytes stored without the mark, MSH-18 still 8859/1
        expect(got.lastName, id).toBe('MÜLLER');
      }
    } finally {
      await db.end();
    }
  });
});
