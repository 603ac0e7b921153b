/**
 * The HL7 inbound as an MLLP endpoint: framing on real sockets, ACK rules (original and
 * enhanced mode), unsupported messages, batches, limits, concurrency, logs, and its place in
 * startLegacyHis.
 */
import net from 'node:net';
import { decodeBatch, encodeFrame, preferMrnAuthorities } from '@ficus/hl7-protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLegacyHis, type EncounterList, type LegacyPatient } from '../src/index.js';
import { createTestDatabase } from '../../../test-support/databases.js';
import { getJson, sqlValue } from '../../../test-support/legacy-his.js';
import { capturingLogger, startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { hl7, MllpClient, msh, readAck, sample, segment, uniqueControlId, type MshOptions } from './support/mllp-client.js';

let his: Hl7Harness;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_inbound');
});
afterAll(async () => {
  await his?.close();
});

let nextMrn = 7100000;
/** an A04 that registers a new patient (no visit): applied once, visible at /api/patients */
function register(controlId: string, options: MshOptions = {}, mrn = String(nextMrn++)) {
  return { mrn, text: hl7(msh('ADT^A04^ADT_A01', controlId, options), segment('PID', { 1: '1', 3: mrn, 5: 'ZULU^ZED^Q', 7: '19610707', 8: 'M' })) };
}
const exists = async (mrn: string) => (await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`)).status === 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one connection', () => {
  it('keeps the connection open for many messages, processed and answered in order, one ACK each, each ACK with a fresh MSH-10', async () => {
    const client = await his.connect();
    const sent = Array.from({ length: 6 }, () => register(uniqueControlId('ORD')));
    // all six in one TCP write, then three more one by one on the same connection
    client.sendRaw(Buffer.concat(sent.map((m) => encodeFrame(m.text))));
    const acks = [];
    for (let i = 0; i < sent.length; i++) acks.push(await client.nextAck());
    for (let i = 0; i < 3; i++) {
      const m = register(uniqueControlId('ORD'));
      sent.push(m);
      acks.push(await client.request(m.text));
    }
    expect(acks.map((a) => a.acked)).toEqual(sent.map((m) => m.text.split('|')[9]));
    expect(acks.every((a) => a.code === 'AA')).toBe(true);
    expect(new Set(acks.map((a) => a.controlId)).size).toBe(acks.length);
    for (const m of sent) expect(await exists(m.mrn)).toBe(true);
    expect(client.socket.destroyed).toBe(false);
  });

  it('skips garbage and broken frames, and decodes the valid frame after them on the same connection', async () => {
    const client = await his.connect();
    const a = register(uniqueControlId('GRB'));
    const b = register(uniqueControlId('GRB'));
    client.sendRaw('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // an HTTP probe
    client.sendRaw(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|^~\\&|HALF A FRAME')])); // never ended: dropped at the next start block
    client.sendRaw(encodeFrame(a.text));
    expect(await client.nextAck()).toMatchObject({ code: 'AA', acked: a.text.split('|')[9] });
    // a frame split into single bytes
    for (const byte of encodeFrame(b.text)) client.sendRaw(Buffer.from([byte]));
    expect(await client.nextAck()).toMatchObject({ code: 'AA', acked: b.text.split('|')[9] });
    expect(client.buffered).toBe(0);
  });

  it('answers a frame that is not an HL7 message with AR and the decoder’s error, and stays open', async () => {
    const client = await his.connect();
    expect(await client.request('HELLO, THIS IS NOT HL7')).toMatchObject({ code: 'AR', acked: '', errorCodes: ['100'] });
    const noControlId = await client.request('MSH|^~\\&|A|B|C|D|20240701||ADT^A01||P|2.5\rPID|1||7100999\r');
    expect(noControlId).toMatchObject({ code: 'AR', errorCodes: ['101'] });
    const badVersion = await client.request(hl7(msh('ADT^A01', 'BADVER1', { version: '9.9' }), 'PID|1||7100998'));
    expect(badVersion).toMatchObject({ code: 'AR', acked: 'BADVER1', errorCodes: ['203'] });
    const m = register(uniqueControlId());
    expect((await client.request(m.text)).code).toBe('AA');
  });

  it('sends the ACKs of a sender that half-closes its side after the last message', async () => {
    const client = await his.connect();
    const m = register(uniqueControlId('HALF'));
    client.send(m.text);
    client.socket.end();
    expect(await client.nextAck()).toMatchObject({ code: 'AA', acked: m.text.split('|')[9] });
    await client.closed;
    expect(await exists(m.mrn)).toBe(true);
  });
});

describe('what is not supported', () => {
  it('answers another message type with AR 200 and another ADT event with AR 201, and records them', async () => {
    const client = await his.connect();
    const siu = await client.request(sample('SIU-S12-01'));
    expect(siu).toMatchObject({ code: 'AR', errorCodes: ['200'], errorLocation: 'MSH^1^9^1^1' });
    const a02 = await client.request(sample('ADT-A02-01'));
    expect(a02).toMatchObject({ code: 'AR', acked: 'MSG00001', errorCodes: ['201'], errorLocation: 'MSH^1^9^1^2' });
    const { rows } = await his.pool.query(`SELECT MSG_TYPE, TRIGGER_EVT, OUTCOME, ACK_CD, ERR_CD FROM HL7_INBOUND_LOG WHERE OUTCOME = 'REJECTED' ORDER BY LOG_ID`);
    expect(rows).toEqual([
      { msg_type: 'SIU', trigger_evt: 'S12', outcome: 'REJECTED', ack_cd: 'AR', err_cd: 200 },
      { msg_type: 'ADT', trigger_evt: 'A02', outcome: 'REJECTED', ack_cd: 'AR', err_cd: 201 },
    ]);
  });

  it('refuses (AR 205) a control id the facility already used for a message of another type, and applies nothing', async () => {
    const client = await his.connect();
    const id = uniqueControlId('REUSE');
    expect((await client.request(register(id).text)).code).toBe('AA');
    const other = hl7(msh('ADT^A08^ADT_A01', id), 'PID|1||7100997||NEW^NAME');
    expect(await client.request(other)).toMatchObject({ code: 'AR', acked: id, errorCodes: ['205'] });
  });
});

describe('enhanced mode (MSH-15)', () => {
  it('AL: CA for an applied message, CE for an application error, CR for a rejected one', async () => {
    const client = await his.connect();
    const m = register(uniqueControlId('ENH'), { acceptAck: 'AL' });
    expect(await client.request(m.text)).toMatchObject({ code: 'CA', acked: m.text.split('|')[9] });
    expect(await exists(m.mrn)).toBe(true);
    // the same message again: applied once, CA again
    expect(await client.request(m.text)).toMatchObject({ code: 'CA' });
    const unknown = hl7(msh('ADT^A03^ADT_A03', uniqueControlId('ENH'), { acceptAck: 'AL' }), 'PID|1||7199999', 'PV1|1|I');
    expect(await client.request(unknown)).toMatchObject({ code: 'CE', errorCodes: ['204'] });
    const unsupported = hl7(msh('ADT^A02^ADT_A02', uniqueControlId('ENH'), { acceptAck: 'AL' }), 'PID|1||7100001');
    expect(await client.request(unsupported)).toMatchObject({ code: 'CR', errorCodes: ['201'] });
  });

  it('NE: no ACK at all; ER: an ACK only for a refusal; SU: only for success', async () => {
    const client = await his.connect();
    const ne = register(uniqueControlId('NE'), { acceptAck: 'NE' });
    const er = register(uniqueControlId('ER'), { acceptAck: 'ER' });
    const erFails = hl7(msh('ADT^A08^ADT_A01', uniqueControlId('ERX'), { acceptAck: 'ER' }), 'PID|1||7199998');
    const suFails = hl7(msh('ADT^A08^ADT_A01', uniqueControlId('SUX'), { acceptAck: 'SU' }), 'PID|1||7199998');
    const su = register(uniqueControlId('SU'), { acceptAck: 'SU' });
    for (const text of [ne.text, er.text, erFails, suFails, su.text]) client.send(text);
    // only two answers are owed, in order: the ER refusal, and the SU success
    expect(await client.nextAck()).toMatchObject({ code: 'CE', acked: erFails.split('|')[9], errorCodes: ['204'] });
    expect(await client.nextAck()).toMatchObject({ code: 'CA', acked: su.text.split('|')[9] });
    expect(await exists(ne.mrn)).toBe(true);
    expect(await exists(er.mrn)).toBe(true);
    await sleep(100);
    expect(client.buffered).toBe(0);
  });
});

describe('batches', () => {
  it('answers a batch with a batch of ACKs, one per message, in order', async () => {
    const client = await his.connect();
    const a = register(uniqueControlId('B1'));
    const b = hl7(msh('ADT^A02^ADT_A02', uniqueControlId('B2')), 'PID|1||7100002');
    const c = register(uniqueControlId('B3'));
    const batch = ['BHS|^~\\&|REGADT|GENHOSP|LEGACYHIS|GENHOSP|20240701083000||||BATCH0001', a.text.trimEnd(), b.trimEnd(), c.text.trimEnd(), 'BTS|3'].join('\r') + '\r';
    client.send(batch);
    const frame = await client.next();
    const answer = decodeBatch(frame);
    if (!answer.ok) throw new Error(answer.error.message);
    expect(answer.batch.batches).toHaveLength(1);
    const group = answer.batch.batches[0];
    expect(group?.header).toMatchObject({ sendingApplication: { namespaceId: 'LEGACYHIS' }, referenceControlId: 'BATCH0001' });
    expect(group?.trailer?.count).toBe('3');
    const acks = answer.batch.messages.map((m) => {
      if (!m.ok) throw new Error(m.error.message);
      return { code: m.message.get('MSA-1'), acked: m.message.get('MSA-2'), err: m.message.get('ERR-3.1') };
    });
    expect(acks).toEqual([
      { code: 'AA', acked: a.text.split('|')[9], err: '' },
      { code: 'AR', acked: b.split('|')[9], err: '201' },
      { code: 'AA', acked: c.text.split('|')[9], err: '' },
    ]);
    expect(await exists(a.mrn)).toBe(true);
    expect(await exists(c.mrn)).toBe(true);
  });
});

describe('limits', () => {
  it('answers a message over the size limit with AR (MSA-2 its control id) and closes the connection; nothing is applied', async () => {
    const small = await his.startInbound({ port: 0, maxFrameBytes: 4096 });
    const client = await MllpClient.connect(small.port);
    const m = register(uniqueControlId('BIG'));
    const big = m.text + `NTE|1||${'X'.repeat(10_000)}\r`;
    client.send(big);
    const ack = await client.nextAck();
    expect(ack).toMatchObject({ code: 'AR', acked: m.text.split('|')[9], errorCodes: ['104'] });
    await client.closed;
    expect(await exists(m.mrn)).toBe(false);
  });

  it('closes a connection left idle, not one in use', async () => {
    const quick = await his.startInbound({ port: 0, idleTimeoutMs: 400 });
    const idle = await MllpClient.connect(quick.port);
    const busy = await MllpClient.connect(quick.port);
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      expect((await busy.request(register(uniqueControlId('IDLE')).text)).code).toBe('AA');
      await sleep(100);
    }
    await idle.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(busy.socket.destroyed).toBe(false);
    await busy.closed;
  });
});

describe('exactly once', () => {
  it('applies a message sent on two connections at the same moment once, and answers AA on both', async () => {
    const [c1, c2] = await Promise.all([his.connect(), his.connect()]);
    const id = uniqueControlId('TWIN');
    const mrn = '7109999';
    const text = hl7(
      msh('ADT^A01^ADT_A01', id),
      segment('PID', { 1: '1', 3: mrn, 5: 'TWIN^TOM', 7: '19900101', 8: 'M' }),
      segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^1^1A', 44: '20240701120000' }),
    );
    c1.send(text);
    c2.send(text);
    const [a1, a2] = await Promise.all([c1.nextAck(), c2.nextAck()]);
    expect([a1.code, a2.code]).toEqual(['AA', 'AA']);
    expect(a1.controlId).not.toBe(a2.controlId);
    expect((await getJson<EncounterList>(`${his.base}/api/encounters?mrn=${mrn}`)).body.total).toBe(1);
    expect(await sqlValue<number>(his.pool, 'SELECT DUP_CNT AS v FROM HL7_INBOUND_LOG WHERE CONTROL_ID = $1', [id])).toBe(1);
  });
});

describe('logs', () => {
  it('say control ids, message types and outcomes, never names, MRNs or dates of birth', async () => {
    const client = await his.connect();
    const id = uniqueControlId('LOG');
    const text = hl7(msh('ADT^A04^ADT_A01', id), segment('PID', { 1: '1', 3: '7123456', 5: 'PRIVATENAME^SECRETGIVEN', 7: '19450817', 8: 'F', 11: 'HIDDEN STREET^^HIDDENCITY' }));
    expect((await client.request(text)).code).toBe('AA');
    await client.request(hl7(msh('ADT^A03^ADT_A03', uniqueControlId('LOG')), 'PID|1||7654321', 'PV1|1'));
    const all = his.logs.join('\n');
    expect(all).toContain(id);
    expect(all).toContain('ADT^A04');
    expect(all).toContain('"outcome":"applied"');
    for (const phi of ['7123456', '7654321', 'PRIVATENAME', 'SECRETGIVEN', '19450817', '1945-08-17', 'HIDDEN']) expect(all).not.toContain(phi);
  });
});

describe('startLegacyHis', () => {
  it('starts the HL7 inbound on LEGACY_HIS_HL7_PORT, and close() closes it', async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'legacy_hl7_start');
    const port = await freePort();
    const logs: string[] = [];
    const running = await startLegacyHis({ LEGACY_DATABASE_URL: db.url, LEGACY_HIS_SEED_PATIENTS: 0, LEGACY_HIS_HL7_PORT: port }, capturingLogger(logs));
    try {
      expect(running.hl7?.port).toBe(port);
      const client = await MllpClient.connect(port);
      const m = register(uniqueControlId('START'));
      expect((await client.request(m.text)).code).toBe('AA');
      expect((await getJson(`${running.url}/api/patients/${m.mrn}`)).status).toBe(200);
      await running.close();
      await client.closed;
      await expect(MllpClient.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await running.close();
      await db.drop();
    }
  });

  it("with HL7_MRN_AUTHORITIES, registers a patient under this hospital's MR of several, and refuses a list of another facility's only", async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'legacy_hl7_authorities');
    const port = await freePort();
    const running = await startLegacyHis({ LEGACY_DATABASE_URL: db.url, LEGACY_HIS_SEED_PATIENTS: 0, LEGACY_HIS_HL7_PORT: port, HL7_MRN_AUTHORITIES: 'GENHOSP' }, capturingLogger([]));
    try {
      const client = await MllpClient.connect(port);
      const admit = (pid3: string) => hl7(msh('ADT^A04^ADT_A01', uniqueControlId('AUTH')), segment('PID', { 1: '1', 3: pid3, 5: 'ZULU^ZED^Q', 7: '19610707', 8: 'M' }));
      expect((await client.request(admit('7492858^^^OTHERHOSP^MR~7472272^^^GENHOSP^MR'))).code).toBe('AA');
      expect((await getJson(`${running.url}/api/patients/7472272`)).status).toBe(200);
      expect((await getJson(`${running.url}/api/patients/7492858`)).status).toBe(404);
      const refused = await client.request(admit('7492859^^^OTHERHOSP^MR'));
      expect(refused.code).not.toBe('AA');
      expect(refused.errorCodes).toContain('204');
      expect((await getJson(`${running.url}/api/patients/7492859`)).status).toBe(404);
    } finally {
      await running.close();
      preferMrnAuthorities([]);
      await db.drop();
    }
  });

  it('starts no HL7 inbound without LEGACY_HIS_HL7_PORT (or with 0)', async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'legacy_hl7_off');
    const running = await startLegacyHis({ LEGACY_DATABASE_URL: db.url, LEGACY_HIS_SEED_PATIENTS: 0, LEGACY_HIS_HL7_PORT: 0 }, capturingLogger([]));
    try {
      expect(running.hl7).toBeUndefined();
    } finally {
      await running.close();
      await db.drop();
    }
  });

  it('lets the message being applied finish and answer when it closes', async () => {
    const other = await his.startInbound({ port: 0 });
    const client = await MllpClient.connect(other.port);
    const m = register(uniqueControlId('SHUT'));
    client.send(m.text);
    await sleep(1); // the frame is on its way (or being applied) when close() begins
    const closing = other.close();
    const frame = await client.next().catch(() => undefined);
    await closing;
    await client.closed;
    // either it was answered (and applied), or it was not taken (not applied): never applied unanswered
    if (frame) expect(readAck(frame).code).toBe('AA');
    expect(await exists(m.mrn)).toBe(frame !== undefined);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}
