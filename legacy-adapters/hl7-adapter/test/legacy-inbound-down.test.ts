/**
 * The legacy system's HL7 inbound (examples/legacy-his, on a migrated legacy database) away for
 * a while: messages for several patients, interleaved, are acknowledged and wait in the store
 * (pending, retried with backoff, visible through the API); when the inbound is back on the
 * same port, all of them are applied, each once, in send order per patient, none lost and no
 * dead letter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { startLegacyInbound, type LegacyInbound } from './support/legacy-inbound.js';
import { MllpTestClient } from './support/mllp-test-client.js';

const PATIENTS = 6;
const PER_PATIENT = 15;
const mrnOf = (p: number) => String(8_200_000 + p);

/** A04 registers the patient, A08s update it; PID-5.3 carries the sequence number */
function message(p: number, seq: number): string {
  const trigger = seq === 0 ? 'A04' : 'A08';
  return (
    [
      `MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||ADT^${trigger}^ADT_A01|D-${mrnOf(p)}-${seq}|P|2.5`,
      `EVN|${trigger}|20240701083000`,
      `PID|1||${mrnOf(p)}^^^GENHOSP^MR||DOWNTEST^PATIENT^S${seq}||19800101|M|||2 TEST ST^^SPRINGFIELD^IL^62701`,
    ].join('\r') + '\r'
  );
}

let legacy: LegacyInbound;
let a: AdapterUnderTest;

beforeAll(async () => {
  legacy = await startLegacyInbound('down_legacy');
  a = await startAdapterUnderTest({ files: hl7Rules(legacy.url, 'legacy') });
});
afterAll(async () => {
  await a?.close();
  await legacy?.close();
});

interface Listed {
  controlId: string;
  deliveries: { target: string; status: string; attempts: number; lastError: string | null }[];
}

describe('the legacy inbound away for a while', () => {
  it('keeps the messages pending, then delivers all of them in order per patient when it is back', async () => {
    await legacy.stop();

    // patients interleaved: P0 S0, P1 S0, ..., P5 S0, P0 S1, ...
    const client = await MllpTestClient.open(a.adapter.port);
    for (let seq = 0; seq < PER_PATIENT; seq++) {
      for (let p = 0; p < PATIENTS; p++) expect((await client.send(message(p, seq))).get('MSA-1')).toBe('AA');
    }
    client.close();

    // waiting, and tried again meanwhile
    const pending = await until(async () => {
      const r = await api<{ messages: Listed[] }>(a.apiUrl, 'GET', '/api/hl7/messages?delivery=pending&limit=1000');
      return r.body.messages.length === PATIENTS * PER_PATIENT && r.body.messages.some((m) => m.deliveries[0]!.attempts > 1) ? r.body.messages : undefined;
    }, 'all pending, retried');
    expect(pending.flatMap((m) => m.deliveries.map((d) => d.status))).toEqual(Array(PATIENTS * PER_PATIENT).fill('pending'));
    expect(pending.find((m) => m.deliveries[0]!.attempts > 1)!.deliveries[0]!.lastError).toMatch(/^the legacy inbound is unreachable: .*ECONNREFUSED/);
    const stats = await api<{ deliveries: { target: string; pending: number }[] }>(a.apiUrl, 'GET', '/api/hl7/stats');
    expect(stats.body.deliveries.find((d) => d.target === 'legacy:legacy-hl7')?.pending).toBe(PATIENTS * PER_PATIENT);

    // back, on the same port
    await legacy.start();
    await until(async () => {
      const r = await api<{ messages: Listed[] }>(a.apiUrl, 'GET', '/api/hl7/messages?delivery=pending&limit=1000');
      return r.body.messages.length === 0 ? true : undefined;
    }, 'nothing pending', 60_000);

    const dead = await api<{ deadLetters: unknown[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
    expect(dead.body.deadLetters).toEqual([]);
    const log = await legacy.pool.query<{ control_id: string; outcome: string; attempt_cnt: number }>("SELECT CONTROL_ID, OUTCOME, ATTEMPT_CNT FROM HL7_INBOUND_LOG WHERE CONTROL_ID LIKE 'D-%' ORDER BY LOG_ID");
    expect(log.rows).toHaveLength(PATIENTS * PER_PATIENT);
    expect(log.rows.filter((r) => r.outcome !== 'APPLIED' || r.attempt_cnt !== 1)).toEqual([]);
    for (let p = 0; p < PATIENTS; p++) {
      const applied = log.rows.filter((r) => r.control_id.startsWith(`D-${mrnOf(p)}-`)).map((r) => r.control_id);
      expect(applied).toEqual(Array.from({ length: PER_PATIENT }, (_, seq) => `D-${mrnOf(p)}-${seq}`));
    }
    const names = await legacy.pool.query<{ pat_mrn: string; pat_mid_nm: string }>('SELECT PAT_MRN, PAT_MID_NM FROM PATIENT_MASTER WHERE PAT_MRN = ANY($1) ORDER BY PAT_MRN', [
      Array.from({ length: PATIENTS }, (_, p) => mrnOf(p)),
    ]);
    expect(names.rows.map((r) => r.pat_mid_nm)).toEqual(Array(PATIENTS).fill(`S${PER_PATIENT - 1}`));
  });
});
