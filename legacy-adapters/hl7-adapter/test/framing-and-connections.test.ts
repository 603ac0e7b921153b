/**
 * MLLP framing and connection handling over real sockets: frames split and joined at random
 * points with garbage between them are each stored once and answered in order; oversize frames
 * are refused and the connection closed, and freed whether or not the sender closes its side;
 * idle connections are closed; a store that falls
 * behind stops the reading of a connection instead of buffering without bound.
 */
import fc from 'fast-check';
import pg from 'pg';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';

let a: AdapterUnderTest;
let db: pg.Client;
beforeAll(async () => {
  a = await startAdapterUnderTest({
    files: hl7Rules('mllp://127.0.0.1:9', 'legacy'),
    env: { HL7_MAX_FRAME_BYTES: '16384', HL7_IDLE_TIMEOUT_MS: '1500', HL7_MAX_QUEUED_FRAMES: '8' },
  });
  db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await a?.close();
});

const stored = async (prefix: string) =>
  (await db.query<{ control_id: string }>("SELECT control_id FROM hl7_messages WHERE control_id LIKE $1 || '%' ORDER BY id", [prefix])).rows.map((r) => r.control_id);

let run = 0;

describe('MLLP framing on a live connection', () => {
  it('frames joined, split at random points and mixed with garbage: each message stored once, answered in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 20 }), { minLength: 12, maxLength: 12 }),
        async (count, cuts, garbage) => {
          const prefix = `P${run++}-`;
          const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
          // garbage never holds a start block: bytes outside frames are skipped, by design
          const parts = ids.flatMap((id, i) => [Buffer.from(garbage[i]!.filter((b) => b !== 0x0b)), encodeFrame(syntheticMessage({ controlId: id, mrn: `M${i}` }))]);
          const wire = Buffer.concat(parts);
          const client = await MllpTestClient.open(a.adapter.port);
          let at = 0;
          for (const cut of cuts) {
            if (at >= wire.length) break;
            client.write(wire.subarray(at, at + cut));
            at += cut;
            await sleep(0);
          }
          if (at < wire.length) client.write(wire.subarray(at));
          const answers = [];
          for (let i = 0; i < count; i++) answers.push(await client.next());
          client.close();
          expect(answers.map((m) => m.get('MSA-2'))).toEqual(ids);
          expect(answers.every((m) => m.get('MSA-1') === 'AA')).toBe(true);
          expect(await stored(prefix)).toEqual(ids);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a frame over the size limit with AR and an ERR, and closes the connection', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const big = syntheticMessage({ controlId: 'BIG-1', mrn: 'M1' }) + `NTE|1||${'X'.repeat(20_000)}\r`;
    const ack = await client.send(big);
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('MSA-2')).toBe('BIG-1');
    expect(ack.get('ERR-3.1')).toBe('207');
    for (let i = 0; i < 50 && !client.closed; i++) await sleep(20);
    expect(client.closed).toBe(true);
    expect(await stored('BIG-')).toEqual([]);
  });

  /** far more than the limit: the rest of the frame is still on its way when the AR goes */
  const huge = (id: string) => syntheticMessage({ controlId: id, mrn: 'M1' }) + `NTE|1||${'X'.repeat(400_000)}\r`;

  it('frees every connection refused for an oversize frame, whether or not its sender closes its side', async () => {
    const open = async () => Number(/^ficus_hl7_connections (\d+)$/m.exec(await (await fetch(`${a.apiUrl}/metrics`)).text())?.[1]);
    const before = await open();
    const closers = await Promise.all([1, 2, 3].map(() => MllpTestClient.open(a.adapter.port)));
    const acks = await Promise.all(closers.map((c, i) => c.send(huge(`LEAK-${i}`))));
    expect(acks.map((m) => `${m.get('MSA-1')} ${m.get('MSA-2')}`)).toEqual(['AR LEAK-0', 'AR LEAK-1', 'AR LEAK-2']);
    // a sender that never closes its side (half-open) and reads nothing more
    const silent = connect({ port: a.adapter.port, host: '127.0.0.1', allowHalfOpen: true });
    silent.on('error', () => undefined);
    silent.write(encodeFrame(huge('LEAK-SILENT')));
    try {
      await until(async () => ((await open()) > before ? true : undefined), 'the silent sender connected');
      await until(async () => ((await open()) <= before ? true : undefined), 'the connections freed (ficus_hl7_connections back where it was)', 10_000);
    } finally {
      silent.destroy();
    }
    expect(await stored('LEAK-')).toEqual([]);
  });

  it('answers the frames before an oversize frame first, then the AR, then closes', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    client.write(Buffer.concat([encodeFrame(syntheticMessage({ controlId: 'BEFORE-BIG', mrn: 'M1' })), encodeFrame(huge('THE-BIG-ONE'))]));
    const answers = [await client.next(), await client.next()].map((m) => `${m.get('MSA-1')} ${m.get('MSA-2')}`);
    expect(answers).toEqual(['AA BEFORE-BIG', 'AR THE-BIG-ONE']);
    for (let i = 0; i < 50 && !client.closed; i++) await sleep(20);
    expect(client.closed).toBe(true);
    expect(await stored('BEFORE-BIG')).toEqual(['BEFORE-BIG']);
  });

  it('closes a connection that stays idle, and a new one works', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(syntheticMessage({ controlId: 'IDLE-1', mrn: 'M1' }))).get('MSA-1')).toBe('AA');
    for (let i = 0; i < 150 && !client.closed; i++) await sleep(20);
    expect(client.closed).toBe(true);
    const again = await MllpTestClient.open(a.adapter.port);
    expect((await again.send(syntheticMessage({ controlId: 'IDLE-2', mrn: 'M1' }))).get('MSA-1')).toBe('AA');
    again.close();
  });

  it('leaves an ACK sent to it unanswered and unstored (an ACK is never acknowledged), and answers what comes next', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    client.write(encodeFrame('MSH|^~\\&|OTHER|FAC|HIS|GENHOSP|20261206090000||ACK^A08^ACK|STRAY-ACK-1|P|2.5\rMSA|AA|SOMETHING-WE-NEVER-SENT\r'));
    const next = await client.send(syntheticMessage({ controlId: 'AFTER-ACK-1', mrn: 'M1' }));
    // the first answer on the connection is the next message's: nothing answered the ACK
    expect(next.get('MSA-2')).toBe('AFTER-ACK-1');
    expect(client.pending()).toBe(0);
    expect(await stored('STRAY-ACK-')).toEqual([]);
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ficus_hl7_messages_total\{direction="inbound",type="ACK",trigger="A08",outcome="ack-ignored"\} 1$/m);
    client.close();
  });

  it('answers a resend with the same positive ACK and does not store it again; refuses another message under a used control id (205)', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const m = syntheticMessage({ controlId: 'DUP-1', mrn: 'M1' });
    const first = await client.send(m);
    const second = await client.send(m);
    expect([first.get('MSA-1'), second.get('MSA-1')]).toEqual(['AA', 'AA']);
    expect(second.get('MSA-2')).toBe('DUP-1');
    expect(second.get('MSH-10')).not.toBe(first.get('MSH-10'));
    expect(await stored('DUP-')).toEqual(['DUP-1']);
    // rebuilt to be resent, with a new MSH-7 and CRLF segment ends: still the same message
    const rebuilt = await client.send(m.replace('20240701083000||', '20240701090500||').replaceAll('\r', '\r\n'));
    expect([rebuilt.get('MSA-1'), rebuilt.get('MSA-2')]).toEqual(['AA', 'DUP-1']);
    // the same control id with other content (a sender that reuses ids, another application behind
    // the same facility name): refused, 205, never taken for a resend and dropped unseen
    const other = await client.send(syntheticMessage({ controlId: 'DUP-1', mrn: 'M2' }));
    expect([other.get('MSA-1'), other.get('MSA-2'), other.get('ERR-3.1'), other.get('ERR-2.3')]).toEqual(['AR', 'DUP-1', '205', '10']);
    expect(other.get('ERR-8')).toContain('send it under a new control id');
    const lab = await client.send(syntheticMessage({ controlId: 'DUP-1', mrn: 'M1' }).replace('|REGSYS|', '|LABSYS|'));
    expect([lab.get('MSA-1'), lab.get('ERR-3.1')]).toEqual(['AR', '205']);
    expect(await stored('DUP-')).toEqual(['DUP-1']);
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ficus_hl7_messages_total\{direction="inbound",type="ADT",trigger="A08",outcome="duplicate-differs"\} 2$/m);
    const rejects = await db.query<{ code: number }>("SELECT error_code AS code FROM hl7_rejects WHERE control_id = 'DUP-1'");
    expect(rejects.rows.map((r) => String(r.code))).toEqual(['205', '205']);
    // two facilities named only by a universal id (MSH-4 `^OID^ISO`) are two senders
    const oid = (o: string, mrn: string) => syntheticMessage({ controlId: 'DUP-OID', mrn }).replace('|REGSYS|GENHOSP|', `|REGSYS|^${o}^ISO|`);
    expect((await client.send(oid('1.2.3', 'M1'))).get('MSA-1')).toBe('AA');
    expect((await client.send(oid('9.9.9', 'M2'))).get('MSA-1')).toBe('AA');
    expect(await stored('DUP-OID')).toEqual(['DUP-OID', 'DUP-OID']);
    client.close();
  });

  it('lists messages page by page with the nextBeforeId cursor, none skipped when they share an instant', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const ids = Array.from({ length: 7 }, (_, i) => `PAGE-${i}`);
    // one write: stored in one statement, so they share their received_at
    client.write(Buffer.concat(ids.map((id) => encodeFrame(syntheticMessage({ controlId: id, mrn: 'P1', facility: 'PAGEFAC' })))));
    for (const _ of ids) expect((await client.next()).get('MSA-1')).toBe('AA');
    client.close();
    const seen: string[] = [];
    let beforeId: number | null | undefined;
    for (let page = 0; beforeId !== null; page++) {
      expect(page).toBeLessThan(5);
      const { body } = await api<{ messages: { controlId: string }[]; nextBeforeId: number | null }>(a.apiUrl, 'GET', `/api/hl7/messages?facility=PAGEFAC&limit=3${beforeId ? `&beforeId=${beforeId}` : ''}`);
      seen.push(...body.messages.map((m) => m.controlId));
      beforeId = body.nextBeforeId;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('a message whose values PostgreSQL refuses fails alone (AE), with what its sender sent after it; other connections\' messages in the same statement are stored', async () => {
    // a value the store refuses, made here by a constraint of the test's own database
    await db.query("ALTER TABLE hl7_messages ADD CONSTRAINT test_poison CHECK (control_id <> 'POISON-1')");
    const blocker = new pg.Client({ connectionString: a.messageDb.url });
    await blocker.connect();
    try {
      // hold the store, so that both connections' frames wait and go in one statement
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE hl7_messages IN ACCESS EXCLUSIVE MODE');
      const [one, two] = [await MllpTestClient.open(a.adapter.port), await MllpTestClient.open(a.adapter.port)];
      one.write(Buffer.concat(['POISON-0', 'POISON-1', 'POISON-2'].map((id, i) => encodeFrame(syntheticMessage({ controlId: id, mrn: `Q${i}` })))));
      two.write(encodeFrame(syntheticMessage({ controlId: 'BYSTANDER-1', mrn: 'Q9' })));
      await sleep(300);
      await blocker.query('ROLLBACK');
      const answers = [await one.next(), await one.next(), await one.next()].map((m) => `${m.get('MSA-1')} ${m.get('MSA-2')}`);
      expect(answers).toEqual(['AA POISON-0', 'AE POISON-1', 'AE POISON-2']);
      expect((await two.next()).get('MSA-1')).toBe('AA');
      expect(await stored('POISON-')).toEqual(['POISON-0']);
      expect(await stored('BYSTANDER-')).toEqual(['BYSTANDER-1']);
      // once the cause is gone, the sender's resends are taken, in order
      await db.query('ALTER TABLE hl7_messages DROP CONSTRAINT test_poison');
      one.write(Buffer.concat(['POISON-1', 'POISON-2'].map((id, i) => encodeFrame(syntheticMessage({ controlId: id, mrn: `Q${i + 1}` })))));
      expect([(await one.next()).get('MSA-1'), (await one.next()).get('MSA-1')]).toEqual(['AA', 'AA']);
      expect(await stored('POISON-')).toEqual(['POISON-0', 'POISON-1', 'POISON-2']);
      one.close();
      two.close();
    } finally {
      await blocker.end();
      await db.query('ALTER TABLE hl7_messages DROP CONSTRAINT IF EXISTS test_poison');
    }
  });

  it('answers a message whose header holds a malformed hex escape (\\X4\\), and the connection keeps working', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const odd = await client.send(syntheticMessage({ controlId: 'HEX\\X4\\-1', mrn: 'H\\X4\\' }));
    expect([odd.get('MSA-1'), odd.get('MSA-2')]).toEqual(['AA', 'HEX\\X4\\-1']);
    expect((await client.send(syntheticMessage({ controlId: 'HEX-2', mrn: 'H2' }))).get('MSA-1')).toBe('AA');
    expect(await stored('HEX')).toEqual(['HEX\\X4\\-1', 'HEX-2']);
    client.close();
  });

  it('refuses a header value holding a NUL character, stores nothing, and answers the next frame (intake-refusals.test.ts: AR 102)', async () => {
    // it was taken with U+FFFD in its place, and neither legacy nor a service could ever apply it
    const client = await MllpTestClient.open(a.adapter.port);
    client.write(encodeFrame(syntheticMessage({ controlId: 'NUL\u0000-1', mrn: 'N1' })));
    // its AR echoes the NUL in MSA-2, which this client's decoder refuses: answers come in order, so the next one's says it was answered
    expect((await client.send(syntheticMessage({ controlId: 'AFTER-NUL-1', mrn: 'N1' }))).get('MSA-2')).toBe('AFTER-NUL-1');
    expect(await stored('NUL')).toEqual([]);
    client.close();
  });

  it('stops reading a connection while the store is blocked, loses nothing, and answers in order after', async () => {
    const blocker = new pg.Client({ connectionString: a.messageDb.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE hl7_messages IN ACCESS EXCLUSIVE MODE');
    const client = await MllpTestClient.open(a.adapter.port);
    const ids = Array.from({ length: 400 }, (_, i) => `BP-${i}`);
    const wire = Buffer.concat(ids.map((id, i) => encodeFrame(syntheticMessage({ controlId: id, mrn: `M${i % 7}`, lastName: 'X'.repeat(2000) }))));
    client.write(wire);
    await sleep(500);
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    expect(Number(/ficus_hl7_backpressure_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    // the sender's bytes wait in its own buffers and the kernel's, not in the adapter
    expect(client.pending()).toBe(0);
    await blocker.query('ROLLBACK');
    await blocker.end();
    const answers = [];
    for (let i = 0; i < ids.length; i++) answers.push((await client.next(20_000)).get('MSA-2'));
    expect(answers).toEqual(ids);
    expect(await stored('BP-')).toEqual(ids);
    client.close();
  });
});
