/**
 * Legacy's refusals, from the legacy stand-in's inbound on a migrated legacy database: while
 * its database is away it answers AE with error 207 ("send it again later"), which holds the
 * patient's lane and is tried again with backoff, so the patient's later messages wait and
 * everything is applied in order once the database is back (no dead letter a replay would
 * later apply over newer data). Refusals of the message itself (204 no such patient, 201 an
 * event legacy does not take) stay dead letters, the lane moves on, and in enhanced mode the
 * application ACK carries legacy's own error code.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { withDatabase } from '@ficus/contracts';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { startLegacyInbound, type LegacyInbound } from './support/legacy-inbound.js';
import { MllpTestClient } from './support/mllp-test-client.js';

const MRN = '8400001';
const UNKNOWN = '8409999';

function adt(controlId: string, trigger: string, mrn: string, middle: string, o: { version?: string; msh15?: string; msh16?: string } = {}): string {
  return (
    [
      `MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20261207083000||ADT^${trigger}^ADT_A01|${controlId}|P|${o.version ?? '2.5'}|||${o.msh15 ?? ''}|${o.msh16 ?? ''}`,
      `EVN|${trigger}|20261207083000`,
      `PID|1||${mrn}^^^GENHOSP^MR||REFUSALTEST^PATIENT^${middle}||19800101|M|||2 TEST ST^^SPRINGFIELD^IL^62701`,
    ].join('\r') + '\r'
  );
}

let legacy: LegacyInbound;
let a: AdapterUnderTest;
let db: pg.Client;
let legacyDb: string;

beforeAll(async () => {
  legacy = await startLegacyInbound('refusals_legacy');
  legacyDb = (await legacy.pool.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
  a = await startAdapterUnderTest({ files: hl7Rules(legacy.url, 'legacy') });
  db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
});
afterAll(async () => {
  await legacyDatabase('up').catch(() => undefined);
  await db?.end();
  await a?.close();
  await legacy?.close();
});

/** The legacy database away (connections cut, new ones refused) or back: legacy's inbound itself keeps answering. */
async function legacyDatabase(state: 'down' | 'up'): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${legacyDb} ALLOW_CONNECTIONS ${state === 'up'}`);
    if (state === 'down') await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [legacyDb]);
  } finally {
    await admin.end();
  }
}

async function send(messages: string[]): Promise<string[]> {
  const client = await MllpTestClient.open(a.adapter.port);
  client.write(Buffer.concat(messages.map((m) => encodeFrame(m))));
  const acks: string[] = [];
  for (const _ of messages) acks.push((await client.next(20_000)).get('MSA-1'));
  client.close();
  return acks;
}

const delivery = async (controlId: string) =>
  (
    await db.query<{ status: string; attempts: number; last_error: string | null; answer: string | null }>(
      'SELECT d.status, d.attempts, d.last_error, d.answer FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = $1 ORDER BY d.id',
      [controlId],
    )
  ).rows[0];

const applied = async (prefix: string) =>
  (await legacy.pool.query<{ control_id: string; outcome: string; attempt_cnt: number }>("SELECT CONTROL_ID, OUTCOME, ATTEMPT_CNT FROM HL7_INBOUND_LOG WHERE CONTROL_ID LIKE $1 || '%' ORDER BY LOG_ID", [prefix])).rows;

const pendingCount = async () => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM hl7_deliveries WHERE status = 'pending'")).rows[0]!.n);

interface DeadLetter {
  controlId: string;
  answer: string;
}

describe("legacy's refusals", () => {
  it('its database away (AE 207, "send it again later"): the lane waits and is tried again, and the patient\'s messages are applied in order once it is back', async () => {
    expect(await send([adt('TMP-0', 'A04', MRN, 'S0')])).toEqual(['AA']);
    await until(async () => ((await delivery('TMP-0'))?.status === 'delivered' ? true : undefined), 'the registration delivered');

    await legacyDatabase('down');
    try {
      // the first in v2.3, whose ACK names its error in ERR-1 rather than ERR-3
      expect(await send([adt('TMP-1', 'A08', MRN, 'S1', { version: '2.3' }), adt('TMP-2', 'A08', MRN, 'S2')])).toEqual(['AA', 'AA']);
      const held = await until(async () => {
        const d = await delivery('TMP-1');
        return d && d.attempts >= 2 ? d : undefined;
      }, 'the first update refused and tried again');
      expect(held.status).toBe('pending');
      // before v2.5 legacy's reason comes in MSA-3 (ERR-1 holds only the code and its table text)
      expect(held.last_error).toMatch(/^legacy answered AE: HL7 207: the legacy system could not apply the message; send it again later; Application internal error \(temporary by HL7_LEGACY_RETRY_ON\)$/);
      // the later update of the same patient waits behind it, untried
      expect(await delivery('TMP-2')).toMatchObject({ status: 'pending', attempts: 0 });
      const dead = await api<{ deadLetters: DeadLetter[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
      expect(dead.body.deadLetters).toEqual([]);
      const stats = await api<{ deliveries: { target: string; pending: number; dead: number }[] }>(a.apiUrl, 'GET', '/api/hl7/stats');
      expect(stats.body.deliveries.find((d) => d.target === 'legacy:legacy-hl7')).toMatchObject({ pending: 2, dead: 0 });
      const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
      expect(Number(/^ficus_hl7_deliveries_total\{target="legacy:legacy-hl7",outcome="retry"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      await legacyDatabase('up');
    }

    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'nothing pending once the database is back', 30_000);
    const dead = await api<{ deadLetters: DeadLetter[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
    expect(dead.body.deadLetters).toEqual([]);
    // legacy counts its own tries of TMP-1: a refusal it managed to log as the database came back is one more
    const log = await applied('TMP-');
    expect(log.map((r) => [r.control_id, r.outcome])).toEqual(['TMP-0', 'TMP-1', 'TMP-2'].map((id) => [id, 'APPLIED']));
    expect([log[0]!.attempt_cnt, log[2]!.attempt_cnt]).toEqual([1, 1]);
    expect(log[1]!.attempt_cnt).toBeGreaterThanOrEqual(1);
    const patient = await legacy.pool.query<{ pat_mid_nm: string }>('SELECT PAT_MID_NM FROM PATIENT_MASTER WHERE PAT_MRN = $1', [MRN]);
    expect(patient.rows[0]!.pat_mid_nm).toBe('S2');
  });

  it('a refusal of the message itself (204 no such patient, 201 an event legacy does not take) is a dead letter, and the lane moves on', async () => {
    expect(await send([adt('REF-1', 'A08', UNKNOWN, 'X1'), adt('REF-2', 'A02', MRN, 'X2'), adt('REF-3', 'A04', UNKNOWN, 'X3')])).toEqual(['AA', 'AA', 'AA']);
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'all settled');
    const dead = await api<{ deadLetters: DeadLetter[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
    const letters = new Map(dead.body.deadLetters.filter((d) => d.controlId.startsWith('REF-')).map((d) => [d.controlId, d.answer]));
    expect([...letters.keys()].sort()).toEqual(['REF-1', 'REF-2']);
    expect(letters.get('REF-1')).toMatch(/^AE: HL7 204 at PID\^1\^3\^1\^1: PID-3: no patient with this MRN/);
    expect(letters.get('REF-2')).toMatch(/^AR: HL7 201 at MSH\^1\^9\^1\^2: /);
    expect(await delivery('REF-1')).toMatchObject({ status: 'dead', attempts: 1 });
    // the registration after the refused update of the same patient went through
    expect((await applied('REF-3')).map((r) => r.outcome)).toEqual(['APPLIED']);
  });

  it("in enhanced mode, the application ACK for legacy's refusal carries legacy's error code (204), now and to a resend", async () => {
    const m = adt('APPREF-1', 'A08', '8409998', 'Y1', { msh15: 'AL', msh16: 'AL' });
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(m)).get('MSA-1')).toBe('CA');
    const app = await client.next(20_000);
    expect([app.get('MSA-1'), app.get('MSA-2'), app.get('ERR-3.1'), app.get('ERR-3.2')]).toEqual(['AE', 'APPREF-1', '204', 'Unknown key identifier']);
    expect(app.get('ERR-8')).toContain('PID-3: no patient with this MRN');
    // and where, as legacy named it (ERR-2 was empty: the sender learnt what, not where)
    const where = (ack: typeof app) => [1, 2, 3, 4, 5].map((c) => ack.get(`ERR-2.${c}`)).join('^');
    expect(where(app)).toBe('PID^1^3^1^1');
    client.write(encodeFrame(m));
    const [commit, again] = [await client.next(), await client.next()];
    expect([commit.get('MSA-1'), again.get('MSA-1'), again.get('ERR-3.1'), where(again)]).toEqual(['CA', 'AE', '204', 'PID^1^3^1^1']);
    expect(again.get('ERR-8')).toBe(app.get('ERR-8'));
    client.close();
  });
});
