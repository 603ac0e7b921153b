/**
 * Every public sample message is received, stored and answered, all on one kept-open
 * connection, as its own MSH-15/MSH-16 ask: original mode gets AA; enhanced mode gets CA when
 * MSH-15 asks for a commit ACK and, when MSH-16 asks, an application ACK (AA) once the system of
 * record (here the new service, a stand-in that takes every message) took it. The samples reuse control ids (MSG00001): a sample that is another message
 * under a (facility, control id) already stored is refused (AR/CR 205), never taken for a resend
 * and dropped. Every ACK echoes the control id in MSA-2 and has its own MSH-10.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeFrame } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';
import { sameMessage } from '../src/store/same-message.js';
import { sampleBytes, sampleFiles } from '../../../test-support/hl7-samples.js';

const files = sampleFiles();

let a: AdapterUnderTest;
let services: ServiceStandIn;
beforeAll(async () => {
  // mode new: the system of record is the new service, which takes every message at once (a stand-in), so application ACKs come quickly
  services = await ServiceStandIn.start(['patient-service', 'results-service']);
  // three samples are training messages (MSH-11 T): taken here on purpose, as a test system would
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'new'), env: { REDIS_URL: services.redis.url, HL7_QUEUE_PREFIX: 'bull', HL7_PROCESSING_IDS: 'P,T' } });
});
afterAll(async () => {
  await a?.close();
  await services?.close();
});

describe('the public samples', () => {
  it(`stores all ${files.length} of them from one kept-open connection and answers each as it asks`, async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const ackIds: string[] = [];
    const seen = new Map<string, Buffer>();
    const appAcksDue: string[] = [];
    let commitAcks = 0;
    let refused = 0;
    for (const file of files) {
      const bytes = sampleBytes(file);
      const sent = decodeMessage(bytes);
      expect(sent.ok, file).toBe(true);
      if (!sent.ok) continue;
      const h = sent.message.header;
      const key = `${h.sendingFacility.namespaceId}|${h.controlId}`;
      const first = seen.get(key);
      const resend = first !== undefined;
      if (!first) seen.set(key, bytes);
      client.write(encodeFrame(bytes));
      const enhanced = h.acceptAckType !== '';
      if (first && !sameMessage(first, bytes)) {
        const ack = await client.waitFor((m) => m.get('MSA-2') === h.controlId && m.get('MSA-1') === (enhanced ? 'CR' : 'AR'));
        expect(ack.get('ERR-3.1'), file).toBe('205');
        ackIds.push(ack.get('MSH-10'));
        refused++;
        continue;
      }
      if (!enhanced || h.acceptAckType === 'AL' || h.acceptAckType === 'SU') {
        const ack = await client.waitFor((m) => m.get('MSA-2') === h.controlId && m.get('MSA-1') === (enhanced ? 'CA' : 'AA'));
        expect(ack.get('MSH-9.1'), file).toBe('ACK');
        ackIds.push(ack.get('MSH-10'));
        commitAcks++;
      }
      if (enhanced && !resend && (h.applicationAckType === 'AL' || h.applicationAckType === 'SU')) appAcksDue.push(h.controlId);
    }
    for (const controlId of appAcksDue) {
      const app = await client.waitFor((m) => m.get('MSA-2') === controlId && m.get('MSA-1') === 'AA');
      ackIds.push(app.get('MSH-10'));
    }
    client.close();
    expect(commitAcks + refused).toBeGreaterThanOrEqual(files.length - 4);
    expect(refused).toBeGreaterThan(0);
    expect(appAcksDue.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ackIds).size, 'every ACK has its own MSH-10').toBe(ackIds.length);

    const db = new pg.Client({ connectionString: a.messageDb.url });
    await db.connect();
    const { rows } = await db.query<{ control_id: string; sending_facility: string; raw: Buffer }>('SELECT control_id, sending_facility, raw FROM hl7_messages ORDER BY id');
    await db.end();
    // every sample stored; samples sharing a facility and control id count once (the later ones are resends)
    expect(rows).toHaveLength(seen.size);
    expect(new Set(rows.map((r) => `${r.sending_facility}|${r.control_id}`))).toEqual(new Set(seen.keys()));
    expect(rows[0]!.raw.equals(sampleBytes(files[0]!)), 'stored byte for byte').toBe(true);
    console.log(`[measured] ${files.length} sample files: ${seen.size} distinct (sending facility, control id) pairs stored; ${refused} other messages under a used pair refused (205); ${files.length - seen.size - refused} resends answered again`);
  });

  it('stores every sample once it has a control id of its own (the samples reuse MSG00001)', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const before = await count();
    for (const file of files) {
      const text = sampleBytes(file).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
      const sep = text[text.indexOf('MSH') + 3]!;
      const first = text.split(/\r\n|\r|\n/)[0]!;
      const fields = first.split(sep);
      fields[9] = `S-${file.replace(/\W/g, '')}`;
      const rewritten = Buffer.from(text.replace(first, fields.join(sep)), 'latin1');
      const h = decodeMessage(rewritten);
      expect(h.ok, file).toBe(true);
      client.write(encodeFrame(rewritten));
      if (h.ok && (h.message.header.acceptAckType === '' || h.message.header.acceptAckType === 'AL')) {
        await client.waitFor((m) => m.get('MSA-2') === fields[9] && ['AA', 'CA'].includes(m.get('MSA-1')));
      }
    }
    // the unanswered ones (MSH-15 NE) are stored too: wait for the last of them
    for (let i = 0; i < 100 && (await count()) < before + files.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await count()) - before).toBe(files.length);
    client.close();
  });
});

async function count(): Promise<number> {
  const db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM hl7_messages');
  await db.end();
  return Number(rows[0]!.n);
}
