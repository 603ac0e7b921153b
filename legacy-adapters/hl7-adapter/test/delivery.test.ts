/**
 * Delivery to the legacy inbound, over real sockets and the real store: a lane held by a
 * message the inbound never answers does not hold the other lanes, however many messages wait
 * behind it; the dispatcher's lock survives the loss of its database session; a resend in
 * enhanced mode gets the application ACK it missed; a sender that half-closes after its last
 * message gets every ACK.
 */
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeFrame, MllpDecoder, type Hl7Message } from '@ficus/hl7-protocol';
import { partitionOf } from '@ficus/contracts';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let a: AdapterUnderTest;
let inbound: TestInbound;
let db: pg.Client;

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
  db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await a?.close();
  await inbound?.stop();
});

const lane = (mrn: string) => partitionOf(mrn, 8);
const receivedOf = (prefix: string) => inbound.received.filter((r) => r.controlId.startsWith(prefix)).map((r) => r.controlId);

/** Writes every message at once and waits for as many ACKs. */
async function sendAll(messages: string[]): Promise<Hl7Message[]> {
  const client = await MllpTestClient.open(a.adapter.port);
  client.write(Buffer.concat(messages.map((m) => encodeFrame(m))));
  const acks: Hl7Message[] = [];
  for (let i = 0; i < messages.length; i++) acks.push(await client.next(30_000));
  client.close();
  return acks;
}

describe('delivery to the legacy inbound', () => {
  it('a lane held by a message legacy never answers does not hold the other lanes, however long the queue behind it', async () => {
    // two patients on different lanes; 400 messages of the first (more than a lane's read) wait behind one that hangs
    const stuck = 'STUCK1';
    let other = 'FREE1';
    for (let i = 2; lane(other) === lane(stuck); i++) other = `FREE${i}`;
    inbound.answer = (m) => (m.patientId?.id === stuck ? 'none' : 'AA');
    const held = Array.from({ length: 400 }, (_, i) => syntheticMessage({ controlId: `HOLD-${i}`, mrn: stuck, seq: i }));
    const free = Array.from({ length: 20 }, (_, i) => syntheticMessage({ controlId: `FREE-${i}`, mrn: other, seq: i }));
    const acks = await sendAll([...held, ...free]);
    expect(acks.every((m) => m.get('MSA-1') === 'AA')).toBe(true);

    await until(() => (receivedOf('FREE-').length === 20 ? true : undefined), 'the free lane delivered');
    expect(receivedOf('FREE-')).toEqual(free.map((_, i) => `FREE-${i}`));
    expect(receivedOf('HOLD-')).toEqual([]);
    // the head of the held lane is tried again and again meanwhile
    const head = await until(async () => {
      const { rows } = await db.query<{ attempts: number; last_error: string | null }>(
        "SELECT d.attempts, d.last_error FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'HOLD-0'",
      );
      return rows[0]!.attempts > 0 ? rows[0]! : undefined;
    }, 'the held head tried');
    expect(head.last_error).toMatch(/no ACK from 127\.0\.0\.1:\d+ within 2000 ms/);
    expect(receivedOf('HOLD-')).toEqual([]);

    // legacy answers again: the held lane goes on, in order, nothing lost
    inbound.answer = () => 'AA';
    await until(() => (receivedOf('HOLD-').length === 400 ? true : undefined), 'the held lane delivered', 60_000);
    expect(receivedOf('HOLD-')).toEqual(held.map((_, i) => `HOLD-${i}`));
  });

  it("a merge waits for the earlier messages of the patient it merges away, which travel in that patient's lane", async () => {
    const retired = 'MRGOLD1';
    let survivor = 'MRGNEW1';
    for (let i = 2; lane(survivor) === lane(retired); i++) survivor = `MRGNEW${i}`;
    // legacy hangs on the merged-away patient's update for now: its lane is held
    inbound.answer = (m) => (m.patientId?.id === retired ? 'none' : 'AA');
    const update = syntheticMessage({ controlId: 'MRG-UPD-1', mrn: retired });
    const merge = syntheticMessage({ controlId: 'MRG-A40-1', mrn: survivor, trigger: 'A40' }).replace(/PV1\|[^\r]*\r/, `MRG|${retired}^^^GENHOSP^MR\r`);
    const later = syntheticMessage({ controlId: 'MRG-AFTER-1', mrn: survivor });
    const acks = await sendAll([update, merge, later]);
    expect(acks.map((m) => m.get('MSA-1'))).toEqual(['AA', 'AA', 'AA']);

    await until(async () => {
      const { rows } = await db.query<{ attempts: number }>("SELECT d.attempts FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'MRG-UPD-1'");
      return rows[0]!.attempts > 0 ? true : undefined;
    }, "the merged-away patient's update tried and held");
    // the merge and what follows it in the survivor's lane wait; waiting is not a failed attempt
    expect(receivedOf('MRG-')).toEqual([]);
    const { rows } = await db.query<{ status: string; attempts: number; after_partition: number; after_partitions: number[] }>(
      "SELECT d.status, d.attempts, d.after_partition, d.after_partitions FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'MRG-A40-1'",
    );
    expect(rows[0]).toEqual({ status: 'pending', attempts: 0, after_partition: lane(retired), after_partitions: [lane(retired)] });

    inbound.answer = () => 'AA';
    await until(() => (receivedOf('MRG-').length === 3 ? true : undefined), 'all delivered once the update went', 30_000);
    expect(receivedOf('MRG-')).toEqual(['MRG-UPD-1', 'MRG-A40-1', 'MRG-AFTER-1']);
  });

  it('a merge of several pairs (one A40) waits in the lane of every patient it involves, and so does its replay', async () => {
    // three other lanes than the first survivor's: the second pair's survivor and both merged-away patients
    const names: string[] = [];
    for (let i = 1; names.length < 4; i++) {
      const mrn = `MPAIR${i}`;
      if (!names.some((n) => lane(n) === lane(mrn))) names.push(mrn);
    }
    const [survivor1, retired1, survivor2, retired2] = names as [string, string, string, string];
    // legacy hangs on an update of the SECOND pair's merged-away patient: only that lane is held
    inbound.answer = (m) => (m.patientId?.id === retired2 ? 'none' : 'AA');
    const update = syntheticMessage({ controlId: 'MP-UPD', mrn: retired2 });
    const pid = (mrn: string, n: number) => `PID|${n}||${mrn}^^^GENHOSP^MR||TESTPATIENT^SYNTH^Q||19700101|F`;
    const merge = syntheticMessage({ controlId: 'MP-A40', mrn: survivor1, trigger: 'A40' }).replace(
      /PID\|[^\r]*\rPV1\|[^\r]*\r/,
      `${pid(survivor1, 1)}\rMRG|${retired1}^^^GENHOSP^MR\r${pid(survivor2, 2)}\rMRG|${retired2}^^^GENHOSP^MR\r`,
    );
    const acks = await sendAll([update, merge]);
    expect(acks.map((m) => m.get('MSA-1'))).toEqual(['AA', 'AA']);
    const { rows } = await db.query<{ partition: number; after_partitions: number[] }>(
      "SELECT d.partition, d.after_partitions FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'MP-A40'",
    );
    expect(rows[0]).toEqual({ partition: lane(survivor1), after_partitions: [lane(retired1), lane(survivor2), lane(retired2)].sort((a, b) => a - b) });
    await until(async () => {
      const r = await db.query<{ attempts: number }>("SELECT d.attempts FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'MP-UPD'");
      return r.rows[0]!.attempts > 0 ? true : undefined;
    }, 'the update of the second merged-away patient tried and held');
    await new Promise((r) => setTimeout(r, 1_500)); // several dispatch rounds
    expect(receivedOf('MP-')).toEqual([]);
    inbound.answer = () => 'AA';
    await until(() => (receivedOf('MP-').length === 2 ? true : undefined), 'both delivered once the update went', 30_000);
    expect(receivedOf('MP-')).toEqual(['MP-UPD', 'MP-A40']);

    // a replay of the merge waits the same way behind what is pending in those lanes
    inbound.answer = (m) => (m.patientId?.id === retired1 ? 'none' : 'AA');
    expect((await sendAll([syntheticMessage({ controlId: 'MP-UPD2', mrn: retired1 })]))[0]!.get('MSA-1')).toBe('AA');
    const mergeId = (await db.query<{ id: string }>("SELECT id FROM hl7_messages WHERE control_id = 'MP-A40'")).rows[0]!.id;
    const replay = await api<{ deliveries: number }>(a.apiUrl, 'POST', '/api/hl7/replay', { messageId: Number(mergeId), reason: 'legacy lost the merge' });
    expect(replay.body.deliveries).toBe(1);
    const delivery = async (controlId: string, replay: boolean) =>
      (
        await db.query<{ status: string; attempts: number; delivered_at: Date | null }>(
          `SELECT d.status, d.attempts, d.delivered_at FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id
            WHERE m.control_id = $1 AND (d.replay_reason IS NOT NULL) = $2`,
          [controlId, replay],
        )
      ).rows[0]!;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await delivery('MP-A40', true)).toMatchObject({ status: 'pending', attempts: 0 });
    inbound.answer = () => 'AA';
    await until(async () => ((await delivery('MP-A40', true)).status === 'delivered' ? true : undefined), 'the replayed merge delivered', 30_000);
    expect((await delivery('MP-A40', true)).delivered_at!.getTime()).toBeGreaterThanOrEqual((await delivery('MP-UPD2', false)).delivered_at!.getTime());
  });

  it('the dispatcher lock: its database session killed, the adapter takes the lock again and goes on delivering', async () => {
    const holder = async () =>
      (
        await db.query<{ pid: number }>(
          "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
          [0x6669_6375],
        )
      ).rows[0]?.pid;
    const first = await until(holder, 'the dispatcher holds its lock');
    await db.query('SELECT pg_terminate_backend($1)', [first]);
    const second = await until(async () => {
      const pid = await holder();
      return pid !== undefined && pid !== first ? pid : undefined;
    }, 'the lock taken again');
    expect(second).not.toBe(first);
    const acks = await sendAll([syntheticMessage({ controlId: 'AFTER-LOCK-1', mrn: 'L1' })]);
    expect(acks[0]!.get('MSA-1')).toBe('AA');
    await until(() => (receivedOf('AFTER-LOCK-').length === 1 ? true : undefined), 'delivered after the lock came back');
  });

  it('a resend in enhanced mode gets the application ACK it missed: when the delivery settles, or at once when it has', async () => {
    const m = syntheticMessage({ controlId: 'APP-1', mrn: 'A1', msh15: 'AL', msh16: 'AL' });
    await inbound.stop();
    try {
      // first try: the commit ACK, then the sender goes away before legacy has seen the message
      const first = await MllpTestClient.open(a.adapter.port);
      expect((await first.send(m)).get('MSA-1')).toBe('CA');
      first.close();
      // the resend, while the delivery is pending: CA now, the application ACK later
      const second = await MllpTestClient.open(a.adapter.port);
      const commit = await second.send(m);
      expect([commit.get('MSA-1'), commit.get('MSA-2')]).toEqual(['CA', 'APP-1']);
      await inbound.start();
      const app = await second.next(20_000);
      expect([app.get('MSA-1'), app.get('MSA-2')]).toEqual(['AA', 'APP-1']);
      expect(app.get('MSH-10')).not.toBe(commit.get('MSH-10'));
      second.close();
    } finally {
      if (!inbound.running) await inbound.start();
    }
    // once more, now that it is delivered: CA and AA at once
    const third = await MllpTestClient.open(a.adapter.port);
    third.write(encodeFrame(m));
    const [c, ap] = [await third.next(), await third.next()];
    expect([c.get('MSA-1'), ap.get('MSA-1'), ap.get('MSA-2')]).toEqual(['CA', 'AA', 'APP-1']);
    third.close();
    expect(receivedOf('APP-')).toEqual(['APP-1']);

    // legacy refuses one (AE): a dead letter; the application ACK says so, and says it again on a resend
    inbound.answer = (msg) => (msg.header.controlId === 'APP-2' ? 'AE' : 'AA');
    const refused = syntheticMessage({ controlId: 'APP-2', mrn: 'A2', msh15: 'AL', msh16: 'AL' });
    const fourth = await MllpTestClient.open(a.adapter.port);
    expect((await fourth.send(refused)).get('MSA-1')).toBe('CA');
    const ae = await fourth.next(20_000);
    expect([ae.get('MSA-1'), ae.get('MSA-2'), ae.get('ERR-3.1')]).toEqual(['AE', 'APP-2', '207']);
    fourth.write(encodeFrame(refused));
    const [c2, ae2] = [await fourth.next(), await fourth.next()];
    expect([c2.get('MSA-1'), ae2.get('MSA-1'), ae2.get('MSA-2')]).toEqual(['CA', 'AE', 'APP-2']);
    fourth.close();
    inbound.answer = () => 'AA';
    const dead = await api<{ deadLetters: { controlId: string; answer: string }[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
    expect(dead.body.deadLetters.map((d) => [d.controlId, d.answer.slice(0, 2)])).toEqual([['APP-2', 'AE']]);
  });

  it('a bare AR from legacy (refused for reasons unrelated to the content, HL7 v2 2.9) holds the lane and is tried again; the next message of the patient waits', async () => {
    let refusals = 0;
    inbound.answer = (m) => (m.header.controlId === 'BARE-AR-1' && refusals++ < 2 ? 'AR' : 'AA');
    try {
      const acks = await sendAll([syntheticMessage({ controlId: 'BARE-AR-1', mrn: 'BAR1' }), syntheticMessage({ controlId: 'BARE-AR-2', mrn: 'BAR1' })]);
      expect(acks.map((m) => m.get('MSA-1'))).toEqual(['AA', 'AA']);
      await until(() => (receivedOf('BARE-AR-').length === 2 ? true : undefined), 'both delivered once legacy takes the first');
      expect(receivedOf('BARE-AR-')).toEqual(['BARE-AR-1', 'BARE-AR-2']);
      const rows = await until(async () => {
        const r = await db.query<{ control_id: string; attempts: number; status: string }>(
          "SELECT m.control_id, d.attempts, d.status FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id LIKE 'BARE-AR-%' ORDER BY m.id",
        );
        return r.rows.every((d) => d.status === 'delivered') ? r.rows : undefined;
      }, 'both marked delivered');
      // the refusals counted as attempts; the second message was sent once, after the first went
      expect(rows.map((r) => [r.control_id, r.attempts])).toEqual([
        ['BARE-AR-1', 3],
        ['BARE-AR-2', 1],
      ]);
      const dead = await api<{ deadLetters: { controlId: string }[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
      expect(dead.body.deadLetters.filter((d) => d.controlId.startsWith('BARE-AR-'))).toEqual([]);
    } finally {
      inbound.answer = () => 'AA';
    }
  });

  it("asks legacy for original-mode ACKs whatever the sender asked for its own hop, so no lane waits for an answer legacy will not send", async () => {
    // an enhanced-mode legacy answers NE with nothing, ER and SU with nothing on one outcome each
    inbound.enhanced = true;
    inbound.answer = (msg) => (msg.header.controlId === 'ENH-SU' ? 'AE' : 'AA');
    try {
      const client = await MllpTestClient.open(a.adapter.port);
      for (const [id, msh15] of [['ENH-NE', 'NE'], ['ENH-ER', 'ER']] as const) {
        // no commit ACK is due to the sender either: the first answer is the application ACK
        client.write(encodeFrame(syntheticMessage({ controlId: id, mrn: 'E1', msh15, msh16: 'AL' })));
        const app = await client.next(20_000);
        expect([app.get('MSA-1'), app.get('MSA-2')]).toEqual(['AA', id]);
      }
      client.write(encodeFrame(syntheticMessage({ controlId: 'ENH-SU', mrn: 'E1', msh15: 'SU', msh16: 'ER' })));
      expect((await client.next()).get('MSA-1')).toBe('CA'); // stored: SU asks for that
      const refused = await client.next(20_000);
      expect([refused.get('MSA-1'), refused.get('MSA-2')]).toEqual(['AE', 'ENH-SU']);
      // the lane goes on: a message of the same patient in original mode after them
      expect((await client.send(syntheticMessage({ controlId: 'ENH-AFTER', mrn: 'E1' }))).get('MSA-1')).toBe('AA');
      client.close();
      await until(() => (receivedOf('ENH-').length === 3 ? true : undefined), 'the lane delivered past the enhanced-mode messages');
      expect(receivedOf('ENH-')).toEqual(['ENH-NE', 'ENH-ER', 'ENH-AFTER']);
      expect(inbound.received.filter((r) => r.controlId.startsWith('ENH-')).map((r) => r.ackTypes)).toEqual([['', ''], ['', ''], ['', '']]);
      const dead = await api<{ deadLetters: { controlId: string; answer: string }[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
      expect(dead.body.deadLetters.filter((d) => d.controlId === 'ENH-SU').map((d) => d.answer.slice(0, 2))).toEqual(['AE']);
      const stored = await db.query<{ raw: Buffer }>("SELECT raw FROM hl7_messages WHERE control_id = 'ENH-NE'");
      expect(stored.rows[0]!.raw.toString()).toContain('|P|2.5|||NE|AL');
    } finally {
      inbound.enhanced = false;
      inbound.answer = () => 'AA';
    }
  });

  it("one patient is one lane however a sender writes PID-3's assigning authority, so an update cannot overtake the admission", async () => {
    const spellings = ['LANE1^^^GENHOSP^MR', 'LANE1^^^^MR', 'LANE1 ^^^&1.2.840.1&ISO^MR', 'LANE1^^^OTHERHOSP^MR'];
    const messages = spellings.map((pid3, i) => syntheticMessage({ controlId: `LANE-${i}`, mrn: 'LANE1', trigger: i === 0 ? 'A01' : 'A08' }).replace('LANE1^^^GENHOSP^MR', pid3));
    const acks = await sendAll(messages);
    expect(acks.map((m) => m.get('MSA-1'))).toEqual(['AA', 'AA', 'AA', 'AA']);
    const lanes = await db.query<{ control_id: string; partition: number }>(
      "SELECT m.control_id, d.partition FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id LIKE 'LANE-%' ORDER BY m.control_id",
    );
    expect(lanes.rows.map((r) => r.partition)).toEqual([lane('LANE1'), lane('LANE1'), lane('LANE1'), lane('LANE1')]);
    await until(() => (receivedOf('LANE-').length === 4 ? true : undefined), 'the four delivered');
    expect(receivedOf('LANE-')).toEqual(['LANE-0', 'LANE-1', 'LANE-2', 'LANE-3']);
  });

  it('tells legacy the charset of the bytes it sends: a UTF-8 byte order mark outweighed MSH-18, so the copy says UTF-8', async () => {
    const utf8 = (id: string, msh18: string) =>
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(syntheticMessage({ controlId: id, mrn: 'BOM1', lastName: 'MÜLLER-ŁÓDŹ' }).replace('|P|2.5||||\r', `|P|2.5||||||${msh18}\r`), 'utf8'),
      ]);
    const client = await MllpTestClient.open(a.adapter.port);
    for (const [id, msh18] of [['BOM-8859', '8859/1'], ['BOM-NONE', ''], ['BOM-UTF8', 'UNICODE UTF-8']] as const) {
      client.write(encodeFrame(utf8(id, msh18)));
      expect((await client.next(20_000)).get('MSA-1')).toBe('AA');
    }
    client.close();
    await until(() => (receivedOf('BOM-').length === 3 ? true : undefined), 'the three copies delivered');
    expect(inbound.received.filter((r) => r.controlId.startsWith('BOM-')).map((r) => [r.controlId, r.lastName])).toEqual([
      ['BOM-8859', 'MÜLLER-ŁÓDŹ'],
      ['BOM-NONE', 'MÜLLER-ŁÓDŹ'],
      ['BOM-UTF8', 'MÜLLER-ŁÓDŹ'],
    ]);
  });

  it('answers every message of a sender that closes its side after the last one (half-close)', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `HALF-${i}`);
    const socket = connect(a.adapter.port, '127.0.0.1');
    const decoder = new MllpDecoder();
    const answers: string[] = [];
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        const d = e.type === 'frame' ? decodeMessage(e.payload) : undefined;
        if (d?.ok) answers.push(`${d.message.get('MSA-1')} ${d.message.get('MSA-2')}`);
      }
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.end(Buffer.concat(ids.map((id) => encodeFrame(syntheticMessage({ controlId: id, mrn: 'H1' })))));
    await closed;
    expect(answers).toEqual(ids.map((id) => `AA ${id}`));
  });
});
