/**
 * A batch's envelope that cannot show that nothing went missing, over real MLLP connections to
 * a real adapter: a BTS-1 or FTS-1 that is present but not a count (5A, -1, 1.5), a BHS whose
 * BTS never comes, an FHS whose FTS never comes. Each is refused as a count that disagrees is
 * (every message AR, none stored, kept with the refused frames); messages under FHS with no
 * BHS, and a trailer with no count, are taken, and a frame of messages with no FHS or BHS is
 * what it was. And MSA-3, where the reason goes before v2.5, is at most 80 characters (ST 80)
 * while the refused frames keep the whole reason.
 * (Until 2026-12-07 the first two were answered AA, and MSA-3 carried the reason whole.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, type Hl7Message } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const seg = (...s: string[]) => s.join('\r') + '\r';
const BHS = 'BHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261209080000||||BATCH-9';
const FHS = 'FHS|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261209080000||||FILE-9';

/** one A08 as its lines (no trailing CR), to place inside an envelope */
const a08 = (controlId: string, version = '2.5.1') => [
  `MSH|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261209080000||ADT^A08^ADT_A01|${controlId}|P|${version}`,
  'EVN|A08|20261209080000',
  'PID|1||7720010^^^GENHOSP^MR||ENVELOPE^TEST||19800101|M',
];

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

/** the answers to one frame, one per message it holds */
async function sendFrame(lines: string[], answers: number): Promise<Hl7Message[]> {
  client.write(encodeFrame(seg(...lines)));
  const got: Hl7Message[] = [];
  for (let i = 0; i < answers; i++) got.push(await client.next());
  return got;
}

async function storedCount(controlId: string): Promise<number> {
  return (await api<{ messages: unknown[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`)).body.messages.length;
}

async function rejects(controlId: string): Promise<{ error_code: number; error_text: string }[]> {
  const db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
  try {
    return (await db.query<{ error_code: number; error_text: string }>('SELECT error_code, error_text FROM hl7_rejects WHERE control_id = $1 ORDER BY id', [controlId])).rows;
  } finally {
    await db.end();
  }
}

const ERL_PARTS = 6;
/** MSA-1, MSA-2, ERR-2 (trailing empty components left out), ERR-3.1 */
function verdict(m: Hl7Message): string[] {
  const erl = Array.from({ length: ERL_PARTS }, (_, i) => m.get(`ERR-2.${i + 1}`));
  while (erl.length > 0 && erl[erl.length - 1] === '') erl.pop();
  return [m.get('MSA-1'), m.get('MSA-2'), erl.join('^'), m.get('ERR-3.1')];
}

/** the raw MSA-3 of an answer, as written (escapes and all) */
function writtenMsa3(m: Hl7Message): string {
  const msa = m.text.split('\r').find((s) => s.startsWith('MSA|')) ?? '';
  return msa.split('|')[3] ?? '';
}

describe('a count that is present but not a count (BTS-1, FTS-1)', () => {
  it.each([
    ['5A', 'ALPHA'],
    ['-1', 'NEG'],
    ['1.5', 'FRAC'],
  ])('refuses a batch whose BTS-1 is %s: every message AR 102 at BTS-1, none stored', async (count, tag) => {
    const ids = [`BTS-${tag}-1`, `BTS-${tag}-2`];
    const answers = await sendFrame([BHS, ...a08(ids[0]!), ...a08(ids[1]!), `BTS|${count}`], 2);
    expect(answers.map(verdict)).toEqual(ids.map((id) => ['AR', id, 'BTS^1^1', '102']));
    expect(answers[0]!.get('ERR-8')).toMatch(/^BTS-1 \(message count\) is not a count \(a whole number, 0 or more\): .*send the whole batch again with its count$/);
    for (const id of ids) {
      expect(await storedCount(id)).toBe(0);
      expect((await rejects(id)).map((r) => r.error_code)).toEqual([102]);
    }
  });

  it('refuses a file whose FTS-1 is not a count: AR 102 at FTS-1, none stored', async () => {
    const answers = await sendFrame([FHS, BHS, ...a08('FTS-ALPHA-1'), 'BTS|1', 'FTS|one'], 1);
    expect(answers.map(verdict)).toEqual([['AR', 'FTS-ALPHA-1', 'FTS^1^1', '102']]);
    expect(answers[0]!.get('ERR-8')).toMatch(/^FTS-1 \(batch count\) is not a count \(a whole number, 0 or more\): .*send the whole file again with its count$/);
    expect(await storedCount('FTS-ALPHA-1')).toBe(0);
  });

  it('answers a batch of no messages whose BTS-1 is not a count one AR', async () => {
    const [answer] = await sendFrame([BHS, 'BTS|X'], 1);
    expect([answer!.get('MSH-9.1'), ...verdict(answer!)]).toEqual(['ACK', 'AR', '', 'BTS^1^1', '102']);
  });

  it('takes a count written with leading zeros or a sign, and a trailer with no count', async () => {
    for (const [trailer, id] of [
      ['BTS|01', 'BTS-ZERO-1'],
      ['BTS|+1', 'BTS-PLUS-1'],
      ['BTS', 'BTS-NONE-1'],
      ['BTS||no count given', 'BTS-NONE-2'],
    ] as const) {
      const [answer] = await sendFrame([BHS, ...a08(id), trailer], 1);
      expect(verdict(answer!)).toEqual(['AA', id, '', '']);
    }
  });
});

describe('a trailer that never comes', () => {
  it('refuses a batch whose BTS never comes (cut short?): every message AR 100 at BTS, none stored', async () => {
    const ids = ['NOBTS-1', 'NOBTS-2'];
    const answers = await sendFrame([BHS, ...a08(ids[0]!), ...a08(ids[1]!)], 2);
    expect(answers.map(verdict)).toEqual(ids.map((id) => ['AR', id, 'BTS^1', '100']));
    expect(answers[0]!.get('ERR-8')).toMatch(/^the batch \(BHS\) has no BTS, so it may have been cut short; .*send the whole batch again with its BTS$/);
    for (const id of ids) {
      expect(await storedCount(id)).toBe(0);
      expect((await rejects(id)).map((r) => r.error_code)).toEqual([100]);
    }
  });

  it('refuses a file whose FTS never comes, its batches whole or not in any BHS: AR 100 at FTS, none stored', async () => {
    const closed = await sendFrame([FHS, BHS, ...a08('NOFTS-1'), 'BTS|1'], 1);
    expect(closed.map(verdict)).toEqual([['AR', 'NOFTS-1', 'FTS^1', '100']]);
    expect(closed[0]!.get('ERR-8')).toMatch(/^the file \(FHS\) has no FTS, so it may have been cut short; .*send the whole file again with its FTS$/);
    const bare = await sendFrame([FHS, ...a08('NOFTS-2'), ...a08('NOFTS-3')], 2);
    expect(bare.map(verdict)).toEqual(['NOFTS-2', 'NOFTS-3'].map((id) => ['AR', id, 'FTS^1', '100']));
    for (const id of ['NOFTS-1', 'NOFTS-2', 'NOFTS-3']) expect(await storedCount(id)).toBe(0);
  });

  it('answers a BHS alone (no messages, no BTS) one AR', async () => {
    const [answer] = await sendFrame([BHS], 1);
    expect([answer!.get('MSH-9.1'), ...verdict(answer!)]).toEqual(['ACK', 'AR', '', 'BTS^1', '100']);
  });

  it('takes messages with no BHS under FHS … FTS; a frame of messages with no FHS or BHS at all is what it was', async () => {
    const filed = await sendFrame([FHS, ...a08('NOBHS-1'), ...a08('NOBHS-2'), 'FTS|1'], 2);
    expect(filed.map(verdict)).toEqual(['NOBHS-1', 'NOBHS-2'].map((id) => ['AA', id, '', '']));
    // not a batch to the listener (no FHS or BHS starts it): one message with a second MSH, refused whole as before
    const [bare] = await sendFrame([...a08('BARE-1'), ...a08('BARE-2')], 1);
    expect(verdict(bare!)).toEqual(['AR', 'BARE-1', 'MSH^2', '100']);
  });
});

describe('MSA-3 (the reason, before v2.5): ST of at most 80 characters', () => {
  /** as written: no escape sequence cut in two (a lone \ would start one the receiver cannot end) */
  const WHOLE_ESCAPES = /^([^\\]|\\[FSTRE]\\|\\X[0-9A-F]+\\)*$/;

  it('v2.3 and v2.4 refusals carry the start of the reason in MSA-3, cut clean; the refused frames keep it whole', async () => {
    const [batch] = await sendFrame([BHS, ...a08('MSA3-23-1', '2.3'), 'BTS|5A'], 1);
    const [badType] = await sendFrame([`MSH|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|20261209080000||ADT-A08|MSA3-24-1|P|2.4`, 'EVN|A08|20261209080000', 'PID|1||7720010^^^GENHOSP^MR||ENVELOPE^TEST'], 1);
    for (const [answer, id, code] of [
      [batch!, 'MSA3-23-1', 102],
      [badType!, 'MSA3-24-1', 200],
    ] as const) {
      expect([answer.get('MSA-1'), answer.get('MSA-2'), answer.get('ERR-1.4.1')]).toEqual(['AR', id, String(code)]);
      const [kept] = await rejects(id);
      expect(kept!.error_code).toBe(code);
      expect(kept!.error_text.length).toBeGreaterThan(80);
      const written = writtenMsa3(answer);
      expect(written.length).toBeLessThanOrEqual(80);
      expect(written).toMatch(WHOLE_ESCAPES);
      expect(answer.get('MSA-3').length).toBeGreaterThan(40);
      expect(kept!.error_text.startsWith(answer.get('MSA-3'))).toBe(true);
    }
    expect(batch!.get('MSA-3')).toBe('BTS-1 (message count) is not a count (a whole number, 0 or more)');
  });

  it('from v2.5 the reason is whole in ERR-8 and MSA-3 stays empty', async () => {
    const [answer] = await sendFrame([BHS, ...a08('MSA3-25-1', '2.5'), 'BTS|5A'], 1);
    expect(answer!.get('MSA-3')).toBe('');
    expect(answer!.get('ERR-8')).toBe((await rejects('MSA3-25-1'))[0]!.error_text);
  });
});
