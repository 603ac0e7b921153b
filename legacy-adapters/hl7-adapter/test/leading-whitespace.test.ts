/**
 * Line breaks, spaces and tabs around the segments, as real senders put them: a file feed's
 * blank first line, the CRLF a Windows editor or an interface engine adds before MSH, LF-ended
 * segments followed by a CRLF. Sent over raw MLLP to a real adapter, each message is taken (AA),
 * stored and passed on to legacy without what preceded MSH (a UTF-8 byte order mark is kept: it
 * names the charset) and read with all its segments; a resend with other leading blanks is the
 * same message; a refused one is listed with its header; a last segment without its CR gets it
 * in the copy legacy gets. (On 2026-12-07 `\n\nMSH`, ` MSH` and
 * `\tMSH` were refused "the first segment is not MSH", and `\r\n` before LF-ended segments, or
 * after them, made the whole message one MSH segment: taken AA with no PID, no patient to order
 * it by, and passed on so.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function segments(controlId: string, mrn: string, processingId = 'P'): string[] {
  return [
    `MSH|^~\\&|FILEFEED|WESTCLINIC|HIS|GENHOSP|20261208090000||ADT^A08^ADT_A01|${controlId}|${processingId}|2.5`,
    'EVN|A08|20261208090000',
    `PID|1||${mrn}^^^GENHOSP^MR||BLANKLINE^ANNA||19800101|F`,
    `PV1|1|O|CLINIC^1^A^GENHOSP`,
  ];
}

/** A message: its segments ended by CR, unless told otherwise. */
const message = (controlId: string, mrn: string, ending = '\r') => segments(controlId, mrn).join(ending) + ending;

let inbound: TestInbound;
let a: AdapterUnderTest;
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

async function send(frame: Buffer): Promise<{ code: string; controlId: string }> {
  const client = await MllpTestClient.open(a.adapter.port);
  try {
    const ack = await client.send(frame);
    return { code: ack.get('MSA-1'), controlId: ack.get('MSA-2') };
  } finally {
    client.close();
  }
}

const stored = async (controlId: string) => (await db.query<{ raw: Buffer }>('SELECT raw FROM hl7_messages WHERE control_id = $1', [controlId])).rows.map((r) => r.raw);

const atLegacy = (controlId: string) => until(() => inbound.received.find((r) => r.controlId === controlId), `${controlId} at legacy`);

/** What legacy got for a control id, as bytes (the first frame naming it). */
const forwarded = (controlId: string) => inbound.payloads.find((p) => p.toString('latin1').split('\r')[0]!.split('|')[9] === controlId);

describe('blanks before the first segment and around the segments', () => {
  it('CR, LF, spaces and tabs before MSH: taken, and stored and passed on to legacy without them', async () => {
    const leads = { crlf: '\r\n', lflf: '\n\n', spaces: '  ', tab: '\t', mixed: ' \r\n\t\r' };
    let n = 0;
    for (const [name, lead] of Object.entries(leads)) {
      const id = `LEAD-${name}`;
      const body = message(id, `77300${++n}`);
      expect(await send(Buffer.from(lead + body)), name).toEqual({ code: 'AA', controlId: id });
      expect(await stored(id), name).toEqual([Buffer.from(body)]);
      expect((await atLegacy(id)).patient).toBe(`77300${n}`);
      expect(forwarded(id)?.toString('latin1'), name).toBe(body);
    }
  });

  it('a UTF-8 byte order mark, then a CRLF, then MSH: the mark is kept (it names the charset), the CRLF is not', async () => {
    const body = message('LEAD-BOM', '7730101').replace('BLANKLINE^ANNA', 'BLÄNKLINE^ÄNNA');
    expect(await send(Buffer.concat([BOM, Buffer.from('\r\n' + body)]))).toEqual({ code: 'AA', controlId: 'LEAD-BOM' });
    expect(await stored('LEAD-BOM')).toEqual([Buffer.concat([BOM, Buffer.from(body)])]);
    expect((await atLegacy('LEAD-BOM')).lastName).toBe('BLÄNKLINE');
  });

  it('LF-ended segments with a CRLF before or after them: every segment read (they were one MSH segment, taken without a patient)', async () => {
    const cases = { 'LF-LEADCRLF': (m: string) => `\r\n${m}`, 'LF-TRAILCRLF': (m: string) => `${m}\r\n`, 'LF-TRAILCR': (m: string) => `${m}\r\r\n` };
    let n = 0;
    for (const [id, frame] of Object.entries(cases)) {
      const mrn = `77302${++n}`;
      expect(await send(Buffer.from(frame(message(id, mrn, '\n')))), id).toEqual({ code: 'AA', controlId: id });
      const got = await atLegacy(id);
      expect([got.patient, got.lastName], id).toEqual([mrn, 'BLANKLINE']);
      // legacy gets the segments ended by CR, as HL7 ends them
      expect(forwarded(id)?.toString('latin1'), id).toBe(message(id, mrn));
      const routed = await db.query<{ patient_key: string | null }>('SELECT patient_key FROM hl7_messages WHERE control_id = $1', [id]);
      expect(routed.rows[0]?.patient_key, id).toContain(mrn);
    }
  });

  it('CRLF- and LF-ended segments, a trailing LF and trailing blank lines after CR-ended ones: taken as sent', async () => {
    const frames = { 'END-CRLF': message('END-CRLF', '7730301', '\r\n'), 'END-LF': message('END-LF', '7730302', '\n'), 'END-TRAILLF': `${message('END-TRAILLF', '7730303')}\n`, 'END-BLANKS': `${message('END-BLANKS', '7730304')}\r\n\r\n  \r` };
    for (const [id, frame] of Object.entries(frames)) {
      expect(await send(Buffer.from(frame)), id).toEqual({ code: 'AA', controlId: id });
      expect((await atLegacy(id)).patient, id).toBe(`773030${Object.keys(frames).indexOf(id) + 1}`);
      expect(forwarded(id)?.toString('latin1'), id).toBe(message(id, `773030${Object.keys(frames).indexOf(id) + 1}`));
    }
  });

  it('the last segment without its CR (`…PV1|1|I<FS><CR>`): stored as received, passed on to legacy with it, a query too', async () => {
    const body = message('END-NOCR', '7730305');
    const cut = body.slice(0, -1);
    expect(await send(Buffer.from(cut))).toEqual({ code: 'AA', controlId: 'END-NOCR' });
    expect(await stored('END-NOCR')).toEqual([Buffer.from(cut)]);
    expect((await atLegacy('END-NOCR')).patient).toBe('7730305');
    // many receivers want every segment ended; until 2026-12-07 the last one came without its CR
    expect(forwarded('END-NOCR')?.toString('latin1')).toBe(body);
    const query = `MSH|^~\\&|FILEFEED|WESTCLINIC|HIS|GENHOSP|20261208090000||QRY^A19|END-NOCR-Q|P|2.5\rQRD|20261208090000|R|I|END-NOCR-Q|||1^RD|7730305|DEM|||`;
    expect(await send(Buffer.from(query))).toEqual({ code: 'AA', controlId: 'END-NOCR-Q' });
    expect(forwarded('END-NOCR-Q')?.toString('latin1')).toBe(`${query}\r`);
  });

  it('a resend with other blanks before MSH is the same message: acknowledged, not stored or passed on again', async () => {
    const body = message('LEAD-RESEND', '7730401');
    expect(await send(Buffer.from(`\r\n${body}`))).toEqual({ code: 'AA', controlId: 'LEAD-RESEND' });
    await atLegacy('LEAD-RESEND');
    for (const again of [body, `\n\n${body}`, ` ${body}`]) expect(await send(Buffer.from(again))).toEqual({ code: 'AA', controlId: 'LEAD-RESEND' });
    expect(await stored('LEAD-RESEND')).toEqual([Buffer.from(body)]);
    expect(inbound.received.filter((r) => r.controlId === 'LEAD-RESEND')).toHaveLength(1);
  });

  it('a refused message with blanks (or a byte order mark and blanks) before MSH is kept without the blanks and listed with its header', async () => {
    const frames = { 'LEAD-REFUSED': Buffer.from(''), 'LEAD-REFUSED-BOM': BOM };
    for (const [id, mark] of Object.entries(frames)) {
      const body = Buffer.from(segments(id, '7730501', 'T').join('\r') + '\r');
      expect(await send(Buffer.concat([mark, Buffer.from('\r\n\r\n'), body])), id).toEqual({ code: 'AR', controlId: id });
      const rejects = await api<{ rejects: { controlId: string | null; sendingApplication: string | null; sendingFacility: string | null; errorCode: number }[] }>(a.apiUrl, 'GET', `/api/hl7/rejects?controlId=${id}`);
      expect(rejects.body.rejects, id).toEqual([expect.objectContaining({ controlId: id, sendingApplication: 'FILEFEED', sendingFacility: 'WESTCLINIC', errorCode: 202 })]);
      const raw = await db.query<{ raw: Buffer }>('SELECT raw FROM hl7_rejects WHERE control_id = $1', [id]);
      expect(raw.rows.map((r) => r.raw), id).toEqual([Buffer.concat([mark, body])]);
    }
  });

  it('a message stored with CRs before MSH (taken so before 2026-12-07) reaches legacy without them, asking for original mode', async () => {
    // what an upgrade finds pending: the stored bytes start with the CRs the old intake kept
    const body = segments('LEAD-STORED', '7730601').join('\r').replace('|P|2.5', '|P|2.5|||AL|NE') + '\r';
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO hl7_messages (sending_application, sending_facility, receiving_application, receiving_facility, control_id, message_type, trigger_event,
                                 version, processing_id, accept_ack_type, application_ack_type, patient_key, charset, raw, rule_id, mode, ack_code)
       VALUES ('FILEFEED', 'WESTCLINIC', 'HIS', 'GENHOSP', 'LEAD-STORED', 'ADT', 'A08', '2.5', 'P', 'AL', 'NE', '7730601^GENHOSP', 'UNICODE UTF-8', $1, 'adt', 'legacy', 'CA')
       RETURNING id`,
      [Buffer.from(`\r\r${body}`)],
    );
    await db.query(`INSERT INTO hl7_deliveries (message_id, target, partition) VALUES ($1, 'legacy:legacy-hl7', 0)`, [rows[0]!.id]);
    expect((await atLegacy('LEAD-STORED')).ackTypes).toEqual(['', '']);
    expect(forwarded('LEAD-STORED')?.toString('latin1')).toBe(body.replace('|AL|NE', '||'));
  });

  it('a frame with only blanks, or blanks before something that is not HL7, is still refused as sent', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    for (const frame of [' \r\n', '\r\nHELLO|1\r']) {
      client.write(encodeFrame(frame));
      const ack = await client.next();
      expect([ack.get('MSA-1'), ack.get('ERR-3.1')], JSON.stringify(frame)).toEqual(['AR', '100']);
    }
    client.close();
  });
});
