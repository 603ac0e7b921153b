/**
 * Messages the adapter decodes but must not take, refused AR (with an ERR saying why, kept with
 * the refused frames) before anything is stored for delivery, over real MLLP connections: a
 * processing id (MSH-11) this adapter does not serve (HL7_PROCESSING_IDS), a PID-3 listing MRs
 * of several assigning authorities with none named as ours (HL7_MRN_AUTHORITIES empty), bytes
 * beyond ASCII under MSH-18 ASCII, a NUL character, an MSH-9 with no trigger event, and a batch whose BTS-1 or
 * FTS-1 count disagrees with what came. Refusals of messages before v2.5 carry their reason in
 * MSA-3 too. (Each was answered AA, or AR without a reason a person could read, by a probe of
 * the demo on 2026-12-08.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, encodeFrame, preferMrnAuthorities, type Hl7Message } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const seg = (...s: string[]) => s.join('\r') + '\r';

function msh(o: { type: string; controlId: string; processingId?: string; version?: string; charset?: string }): string {
  const head = `MSH|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|20261208120000||${o.type}|${o.controlId}|${o.processingId ?? 'P'}|${o.version ?? '2.5.1'}`;
  return o.charset === undefined ? head : `${head}||||||${o.charset}`;
}

const a08 = (controlId: string, o: { processingId?: string; version?: string; pid3?: string; type?: string } = {}) =>
  seg(msh({ type: o.type ?? 'ADT^A08^ADT_A01', controlId, processingId: o.processingId, version: o.version }), 'EVN|A08|20261208120000', `PID|1||${o.pid3 ?? '7720010^^^GENHOSP^MR'}||TESTNAME^TRAINING||19800101|M`);

const oru = (controlId: string, o: { processingId?: string; pid3?: string } = {}) =>
  seg(
    msh({ type: 'ORU^R01^ORU_R01', controlId, processingId: o.processingId }),
    `PID|1||${o.pid3 ?? '7720010^^^GENHOSP^MR'}||SMITH^ANNA||20000229|F`,
    'OBR|1|PLX001|FLX001|HCG^HCG^L|||20261208095000|||||||||||||||20261208095900|||F',
    'OBX|1|ST|HCG^Pregnancy test^L||POSITIVE||NEGATIVE|A|||F',
  );

let inbound: TestInbound;
let a: AdapterUnderTest;
let client: MllpTestClient;

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
  client = await MllpTestClient.open(a.adapter.port);
});
afterAll(async () => {
  client?.close();
  await a?.close();
  await inbound?.stop();
});

async function storedCount(at: AdapterUnderTest, controlId: string): Promise<number> {
  return (await api<{ messages: unknown[] }>(at.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`)).body.messages.length;
}

async function rejects(at: AdapterUnderTest, controlId: string): Promise<{ error_code: number; error_text: string }[]> {
  const db = new pg.Client({ connectionString: at.messageDb.url });
  await db.connect();
  try {
    return (await db.query<{ error_code: number; error_text: string }>('SELECT error_code, error_text FROM hl7_rejects WHERE control_id = $1 ORDER BY id', [controlId])).rows;
  } finally {
    await db.end();
  }
}

async function patientKey(at: AdapterUnderTest, controlId: string): Promise<string | null> {
  const db = new pg.Client({ connectionString: at.messageDb.url });
  await db.connect();
  try {
    return (await db.query<{ patient_key: string | null }>('SELECT patient_key FROM hl7_messages WHERE control_id = $1', [controlId])).rows[0]?.patient_key ?? null;
  } finally {
    await db.end();
  }
}

/** a composite field as written: its components joined by ^ (trailing empty ones left out) */
function composite(m: Hl7Message, field: string, components: number): string {
  const parts = Array.from({ length: components }, (_, i) => m.get(`${field}.${i + 1}`));
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

/** ERR-1 before v2.5 (ELD): segment ^ sequence ^ field ^ code & text & table */
const eld = (m: Hl7Message) => [1, 2, 3].map((c) => m.get(`ERR-1.${c}`)).join('^') + '^' + [1, 2, 3].map((s) => m.get(`ERR-1.4.${s}`)).join('&');

/** MSA-1, MSA-2, ERR-2, ERR-3.1 of an answer */
const verdict = (m: Hl7Message) => [m.get('MSA-1'), m.get('MSA-2'), composite(m, 'ERR-2', 6), m.get('ERR-3.1')];

describe('MSH-11 processing id (HL7_PROCESSING_IDS, default P)', () => {
  it('refuses a training (T) update and a debugging (D) result AR 202, stores neither, keeps them with the refused frames', async () => {
    const training = await client.send(a08('PID-T-1', { processingId: 'T' }));
    expect(verdict(training)).toEqual(['AR', 'PID-T-1', 'MSH^1^11', '202']);
    expect(training.get('ERR-8')).toContain('HL7_PROCESSING_IDS');
    const debugging = await client.send(oru('PID-D-1', { processingId: 'D' }));
    expect(verdict(debugging)).toEqual(['AR', 'PID-D-1', 'MSH^1^11', '202']);
    for (const id of ['PID-T-1', 'PID-D-1']) {
      expect(await storedCount(a, id)).toBe(0);
      expect((await rejects(a, id)).map((r) => r.error_code)).toEqual([202]);
    }
    // production, and an MSH-11 left empty (read as P, as the ACK's fallback has it), are taken
    expect(verdict(await client.send(a08('PID-P-1')))).toEqual(['AA', 'PID-P-1', '', '']);
    expect(verdict(await client.send(a08('PID-EMPTY-1', { processingId: '' })))).toEqual(['AA', 'PID-EMPTY-1', '', '']);
  });
});

describe('PID-3 with MRs of several assigning authorities (HL7_MRN_AUTHORITIES empty)', () => {
  it('refuses it AR naming PID-3 and HL7_MRN_AUTHORITIES; one MR, or several of one authority, are taken', async () => {
    const hie = await client.send(oru('HIE-1', { pid3: '7700004^^^OTHERHOSP^MR~7710003^^^GENHOSP^MR' }));
    expect(verdict(hie)).toEqual(['AR', 'HIE-1', 'PID^1^3', '103']);
    expect(hie.get('ERR-8')).toContain('HL7_MRN_AUTHORITIES');
    expect(await storedCount(a, 'HIE-1')).toBe(0);
    expect((await rejects(a, 'HIE-1')).map((r) => r.error_code)).toEqual([103]);
    // an MR naming no authority beside another's is as ambiguous
    expect(verdict(await client.send(oru('HIE-2', { pid3: '7700004^^^OTHERHOSP^MR~7710003^^^^MR' })))).toEqual(['AR', 'HIE-2', 'PID^1^3', '103']);
    // a merge's MRG-1 is read the same way
    const merge = await client.send(
      seg(msh({ type: 'ADT^A40^ADT_A39', controlId: 'HIE-MRG-1' }), 'EVN|A40|20261208120000', 'PID|1||7710003^^^GENHOSP^MR||SMITH^ANNA', 'MRG|7700004^^^OTHERHOSP^MR~7710009^^^GENHOSP^MR'),
    );
    expect(verdict(merge)).toEqual(['AR', 'HIE-MRG-1', 'MRG^1^1', '103']);

    expect(verdict(await client.send(oru('ONE-MR-1', { pid3: '7710003^^^GENHOSP^MR~123456789^^^SSA^SS' })))).toEqual(['AA', 'ONE-MR-1', '', '']);
    expect(verdict(await client.send(oru('SAME-AUTH-1', { pid3: '7710003^^^GENHOSP^MR~7710004^^^GENHOSP^MR' })))).toEqual(['AA', 'SAME-AUTH-1', '', '']);
    expect(await patientKey(a, 'SAME-AUTH-1')).toBe('7710003');
  });
});

describe('MSH-18 ASCII', () => {
  it('refuses bytes beyond ASCII AR 102 (as invalid UTF-8 under UNICODE UTF-8 is) and stores nothing; plain ASCII is taken', async () => {
    const body = (controlId: string, name: string) => seg(msh({ type: 'ADT^A08^ADT_A01', controlId, charset: 'ASCII' }), 'EVN|A08|20261208070100', `PID|1||7710003^^^GENHOSP^MR||${name}^ANNA||20000229|F`);
    const utf8 = await client.send(Buffer.from(body('ASCII-1', 'SMÉTH'), 'utf8'));
    expect(verdict(utf8)).toEqual(['AR', 'ASCII-1', 'MSH^1^18', '102']);
    const latin1 = await client.send(Buffer.from(body('ASCII-2', 'SMÉTH'), 'latin1'));
    expect(verdict(latin1)).toEqual(['AR', 'ASCII-2', 'MSH^1^18', '102']);
    const invalidUtf8 = await client.send(Buffer.from(body('UTF8-BAD-1', 'SMÉTH').replace('ASCII', 'UNICODE UTF-8'), 'latin1'));
    expect(verdict(invalidUtf8)).toEqual(['AR', 'UTF8-BAD-1', 'MSH^1^18', '102']);
    for (const id of ['ASCII-1', 'ASCII-2']) expect(await storedCount(a, id)).toBe(0);
    expect(verdict(await client.send(Buffer.from(body('ASCII-3', 'SMITH'), 'latin1')))).toEqual(['AA', 'ASCII-3', '', '']);
  });
});

describe('NUL characters', () => {
  it('refuses a NUL in a field (raw, or as hex data \\X00\\) AR 102 where it is, keeps it with the refused frames: it was AA, and legacy answered AE 207 for ever, holding the patient\'s lane', async () => {
    const named = (controlId: string, name: string) => seg(msh({ type: 'ADT^A08^ADT_A01', controlId }), 'EVN|A08|20261208070100', `PID|1||7710003^^^GENHOSP^MR||${name}^ANNA||20000229|F`);
    expect(verdict(await client.send(named('NUL-1', 'SM\0ITH')))).toEqual(['AR', 'NUL-1', 'PID^1^5', '102']);
    expect(verdict(await client.send(named('NUL-2', 'SM\\X00\\ITH')))).toEqual(['AR', 'NUL-2', 'PID^1^5', '102']);
    expect((await rejects(a, 'NUL-1')).map((r) => r.error_code)).toEqual([102]);
    // in the control id too (its ACK echoes it as sent, on a connection of its own); PostgreSQL text
    // holds no NUL, so the refused frame is kept with U+FFFD in its control id's place
    const own = await MllpTestClient.open(a.adapter.port);
    own.write(encodeFrame(named('NUL\0-3', 'SMITH')));
    expect(await until(async () => (await rejects(a, 'NUL\uFFFD-3'))[0]?.error_code, 'the refused frame kept', 5_000)).toBe(102);
    own.close();
    for (const c of ['NUL-1', 'NUL-2', 'NUL\uFFFD-3']) expect(await storedCount(a, c)).toBe(0);
  });
});

describe('MSH-9 message type', () => {
  it('refuses a type with no trigger event (ADT-A08, ADT^) AR on MSH-9; a well-formed type no rule names still goes by the rules', async () => {
    const dashed = await client.send(a08('BAD9-1', { type: 'ADT-A08' }));
    expect(verdict(dashed)).toEqual(['AR', 'BAD9-1', 'MSH^1^9', '200']);
    expect(dashed.get('ERR-8')).toContain('MSH-9');
    const noTrigger = await client.send(a08('BAD9-2', { type: 'ADT^' }));
    expect(verdict(noTrigger)).toEqual(['AR', 'BAD9-2', 'MSH^1^9^^2', '101']);
    for (const id of ['BAD9-1', 'BAD9-2']) expect(await storedCount(a, id)).toBe(0);
    // unknown but well formed: the catch-all rule takes it to legacy
    expect(verdict(await client.send(a08('UNK9-1', { type: 'XYZ^Q99' })))).toEqual(['AA', 'UNK9-1', '', '']);
  });
});

describe('refusals before v2.5', () => {
  it('carry the reason in MSA-3 and the location in ERR-1', async () => {
    const noControlId = await client.send(seg('MSH|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|20261207170200||ADT^A08||P|2.3', 'EVN|A08|20261207170200', 'PID|1||7700002^^^GENHOSP^MR||X^Y||19601231|M'));
    expect(noControlId.get('MSA-1')).toBe('AR');
    expect(noControlId.get('MSA-3')).toBe('MSH-10 (message control id) is required');
    expect(eld(noControlId)).toBe('MSH^1^10^101&Required field missing&HL70357');

    const badSegment = await client.send(
      seg(msh({ type: 'ADT^A08', controlId: 'V24-SEG-1', version: '2.4' }), 'EVN|A08|20261207170200', 'PID|1||7700002^^^GENHOSP^MR||X^Y||19601231|M', 'PV1|1', 'XX|1'),
    );
    expect([badSegment.get('MSA-1'), badSegment.get('MSA-2')]).toEqual(['AR', 'V24-SEG-1']);
    expect(badSegment.get('MSA-3')).toMatch(/^segment 5 of the message has no valid segment id/);

    const training = await client.send(a08('V23-T-1', { processingId: 'T', version: '2.3' }));
    expect(training.get('MSA-1')).toBe('AR');
    // MSA-3 is ST 80: the reason's start (the setting it names, past 80, is in the refused frames' record)
    expect(training.get('MSA-3')).toBe('MSH-11 (processing id) is T (training): this receiver takes P (production) only');
    expect(eld(training)).toBe('MSH^1^11^202&Unsupported processing id&HL70357');

    // from v2.5 the reason is in ERR-8, and MSA-3 (deprecated there) stays empty
    const v25 = await client.send(a08('V25-T-1', { processingId: 'T', version: '2.5' }));
    expect([v25.get('MSA-3'), v25.get('ERR-3.1')]).toEqual(['', '202']);
  });
});

describe('batch counts (BTS-1, FTS-1)', () => {
  it('refuses every message of a batch whose BTS-1 counts more than came, saying so, and stores none', async () => {
    client.write(
      encodeFrame(
        seg(
          'BHS|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|20261208130000||||B2',
          msh({ type: 'ADT^A08^ADT_A01', controlId: 'NC-B2-1' }),
          'EVN|A08|20261208130000',
          'PID|1||7720010^^^GENHOSP^MR||EMERG^ED||19800101|M',
          'BTS|5',
        ),
      ),
    );
    const answer = await client.next();
    expect(verdict(answer)).toEqual(['AR', 'NC-B2-1', 'BTS^1^1', '100']);
    expect(answer.get('ERR-8')).toContain('BTS-1 counts 5 messages, the batch holds 1');
    expect(await storedCount(a, 'NC-B2-1')).toBe(0);
    expect((await rejects(a, 'NC-B2-1')).map((r) => r.error_code)).toEqual([100]);
  });

  it('refuses a file whose FTS-1 counts other batches than came; a file of messages without BHS may count 1 batch, or its messages', async () => {
    client.write(
      encodeFrame(
        seg(
          'FHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261207180000||||FILE-F1',
          'BHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261207180000||||BATCH-F1',
          msh({ type: 'ADT^A08^ADT_A01', controlId: 'FTS-1' }),
          'PID|1||7720010^^^GENHOSP^MR||EMERG^ED',
          'BTS|1',
          'FTS|3',
        ),
      ),
    );
    const answer = await client.next();
    expect(verdict(answer)).toEqual(['AR', 'FTS-1', 'FTS^1^1', '100']);
    expect(await storedCount(a, 'FTS-1')).toBe(0);

    for (const [count, ids] of [
      ['1', ['FTS-BARE-1', 'FTS-BARE-2']],
      ['2', ['FTS-BARE-3', 'FTS-BARE-4']],
    ] as const) {
      client.write(encodeFrame(seg('FHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261207180000', ...ids.flatMap((id) => [msh({ type: 'ADT^A08^ADT_A01', controlId: id }), 'PID|1||7720010^^^GENHOSP^MR||EMERG^ED']), `FTS|${count}`)));
      for (const id of ids) expect(verdict(await client.next())).toEqual(['AA', id, '', '']);
    }
  });

  it('answers a batch of no messages whose BTS-1 counts some AR, not with an empty acknowledgement batch', async () => {
    client.write(encodeFrame(seg('BHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261207180000||||B-LOST', 'BTS|2')));
    const answer = await client.next();
    expect([answer.get('MSH-9.1'), ...verdict(answer)]).toEqual(['ACK', 'AR', '', 'BTS^1^1', '100']);
  });
});

describe('the settings', () => {
  it('HL7_PROCESSING_IDS=P,T takes training messages (D still refused); HL7_MRN_AUTHORITIES takes our MR of several; a miscounted batch in HL7_BATCH_ACK=batch is answered AR inside the acknowledgement batch', async () => {
    const b = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy'), env: { HL7_PROCESSING_IDS: 'P, T', HL7_MRN_AUTHORITIES: 'GENHOSP', HL7_BATCH_ACK: 'batch' } });
    const c = await MllpTestClient.open(b.adapter.port);
    try {
      expect(verdict(await c.send(a08('SET-T-1', { processingId: 'T' })))).toEqual(['AA', 'SET-T-1', '', '']);
      expect(verdict(await c.send(oru('SET-D-1', { processingId: 'D' })))).toEqual(['AR', 'SET-D-1', 'MSH^1^11', '202']);
      expect(verdict(await c.send(oru('SET-HIE-1', { pid3: '7700004^^^OTHERHOSP^MR~7710003^^^GENHOSP^MR' })))).toEqual(['AA', 'SET-HIE-1', '', '']);
      expect(await patientKey(b, 'SET-HIE-1')).toBe('7710003');

      const frames: Buffer[] = [];
      c.socket.prependListener('data', (chunk: Buffer) => frames.push(chunk));
      c.write(encodeFrame(seg('BHS|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|20261208130000||||B3', msh({ type: 'ADT^A08^ADT_A01', controlId: 'SET-B3-1' }), 'PID|1||7720010^^^GENHOSP^MR||EMERG^ED', 'BTS|4')));
      await new Promise<void>((resolve) => {
        const check = () => (Buffer.concat(frames).includes(0x1c) ? resolve() : setTimeout(check, 20));
        check();
      });
      const frame = Buffer.concat(frames);
      const decoded = decodeBatch(frame.subarray(frame.indexOf(0x0b) + 1, frame.indexOf(0x1c)));
      if (!decoded.ok) throw new Error(decoded.error.message);
      const acks = decoded.batch.messages.map((m) => (m.ok ? verdict(m.message) : []));
      expect(acks).toEqual([['AR', 'SET-B3-1', 'BTS^1^1', '100']]);
      expect(await storedCount(b, 'SET-B3-1')).toBe(0);
    } finally {
      c.close();
      await b.close();
      // the authorities are a process-wide setting of the HL7 readers
      preferMrnAuthorities([]);
    }
  });
});
