/**
 * GET /api/hl7/rejects: the frames refused at intake (kept in hl7_rejects, counted by /stats as
 * "refused") listed with why and from whom, over a real adapter, MLLP connection and store:
 * filtered by sending application and facility (read from MSH, or BHS for a batch), time,
 * control id, paged; the listing never carries the frame; the frame itself (patient data) only
 * to an operator, one at a time, on the record, and a viewer's try on the record as refused.
 * (On 2026-12-07 a probe of the demo found refusals counted but answered by no route: only psql;
 * and, once there was one, a refused frame with a NUL byte in its header made it fail.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '@ficus/contracts';
import { encodeFrame } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const seg = (...s: string[]) => s.join('\r') + '\r';
const a08 = (app: string, facility: string, controlId: string, processingId: string) =>
  seg(`MSH|^~\\&|${app}|${facility}^1.2.3^ISO|LEGACYHIS|GENHOSP|20261208120000||ADT^A08^ADT_A01|${controlId}|${processingId}|2.5.1`, 'EVN|A08|20261208120000', 'PID|1||7720010^^^GENHOSP^MR||REJECTNAME^ANNA||19800101|F');

let inbound: TestInbound;
let a: AdapterUnderTest;
const tokens: Record<'viewer' | 'operator', string> = { viewer: 'ficus_test-hl7-rejects-viewer-0123456789abcdefghijklmnopq', operator: 'ficus_test-hl7-rejects-operator-0123456789abcdefghijklmno' };

async function get<T>(path: string, role: 'viewer' | 'operator' = 'viewer'): Promise<{ status: number; body: T }> {
  const res = await fetch(a.apiUrl + path, { headers: { authorization: `Bearer ${tokens[role]}` } });
  return { status: res.status, body: (await res.json()) as T };
}

interface Reject {
  id: number;
  peer: string | null;
  sendingApplication: string | null;
  sendingFacility: string | null;
  controlId: string | null;
  errorCode: number;
  error: string;
  bytes: number;
  raw?: string;
}

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
  const pool = new pg.Pool({ connectionString: a.ruleDb.url, max: 1 });
  for (const role of ['viewer', 'operator'] as const) await new TokenStore(pool).create(`rejects-${role}`, role, 'test', tokens[role]);
  await pool.end();

  const client = await MllpTestClient.open(a.adapter.port);
  expect((await client.send(a08('NEWREG', 'NORTHCAMPUS', 'REJ-T-1', 'T'))).get('MSA-1')).toBe('AR');
  expect((await client.send(a08('LABSYS', 'SOUTHLAB', 'REJ-D-1', 'D'))).get('MSA-1')).toBe('AR');
  expect((await client.send(a08('NEWREG', 'NORTHCAMPUS', 'REJ-OK-1', 'P'))).get('MSA-1')).toBe('AA');
  // a batch whose BTS-1 counts more than came: refused, its header is the BHS
  client.write(encodeFrame(seg('BHS|^~\\&|BATCHER|EASTWING|LEGACYHIS|GENHOSP|20261208130000||||B2', a08('BATCHER', 'EASTWING', 'REJ-B-1', 'P').trimEnd(), 'BTS|5')));
  expect((await client.next()).get('MSA-1')).toBe('AR');
  client.close();
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
});

describe('GET /api/hl7/rejects', () => {
  it('lists the refused frames newest first with why and from whom, never the frame', async () => {
    const all = await get<{ rejects: Reject[]; nextBeforeId: number | null }>('/api/hl7/rejects');
    expect(all.status).toBe(200);
    expect(all.body.rejects.map((r) => [r.sendingApplication, r.sendingFacility, r.controlId, r.errorCode])).toEqual([
      ['BATCHER', 'EASTWING', 'REJ-B-1', 100],
      ['LABSYS', 'SOUTHLAB', 'REJ-D-1', 202],
      ['NEWREG', 'NORTHCAMPUS', 'REJ-T-1', 202],
    ]);
    expect(all.body.rejects[2]!.error).toContain('HL7_PROCESSING_IDS');
    expect(all.body.rejects[0]!.error).toContain('BTS-1 counts 5 messages');
    expect(all.body.rejects[2]!.peer).toMatch(/:\d+$/);
    expect(all.body.rejects[2]!.bytes).toBe(Buffer.byteLength(a08('NEWREG', 'NORTHCAMPUS', 'REJ-T-1', 'T')));
    expect(all.body.nextBeforeId).toBeNull();
    expect(JSON.stringify(all.body)).not.toContain('REJECTNAME');
  });

  it('filters by sending application and facility, control id and time, and pages by id', async () => {
    const ids = async (q: string) => (await get<{ rejects: Reject[] }>(`/api/hl7/rejects${q}`)).body.rejects.map((r) => r.controlId);
    expect(await ids('?facility=NORTHCAMPUS')).toEqual(['REJ-T-1']);
    expect(await ids('?application=LABSYS')).toEqual(['REJ-D-1']);
    expect(await ids('?application=BATCHER&facility=EASTWING')).toEqual(['REJ-B-1']);
    expect(await ids('?application=NEWREG&facility=SOUTHLAB')).toEqual([]);
    expect(await ids('?controlId=REJ-D-1')).toEqual(['REJ-D-1']);
    expect(await ids('?until=2020-01-01T00:00:00Z')).toEqual([]);
    expect(await ids(`?since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).toHaveLength(3);
    const first = await get<{ rejects: Reject[]; nextBeforeId: number }>('/api/hl7/rejects?limit=2');
    expect(first.body.rejects.map((r) => r.controlId)).toEqual(['REJ-B-1', 'REJ-D-1']);
    expect(await ids(`?limit=2&beforeId=${first.body.nextBeforeId}`)).toEqual(['REJ-T-1']);
  });

  it('shows one frame; the frame itself only to an operator, on the record, a viewer\'s try on the record as refused', async () => {
    const [t] = (await get<{ rejects: Reject[] }>('/api/hl7/rejects?controlId=REJ-T-1')).body.rejects;
    const one = await get<Reject>(`/api/hl7/rejects/${t!.id}`);
    expect([one.status, one.body]).toEqual([200, t]);
    const denied = await get<{ status: number; detail: string }>(`/api/hl7/rejects/${t!.id}?raw=true`);
    expect(denied.status).toBe(403);
    expect(JSON.stringify(denied.body)).not.toContain('REJECTNAME');
    const raw = await get<Reject>(`/api/hl7/rejects/${t!.id}?raw=true`, 'operator');
    expect(raw.status).toBe(200);
    expect(raw.body.raw).toBe(a08('NEWREG', 'NORTHCAMPUS', 'REJ-T-1', 'T'));
    expect((await get(`/api/hl7/rejects/999999`)).status).toBe(404);

    const db = new pg.Client({ connectionString: a.ruleDb.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ actor: string; outcome: string; status: number; target: string }>("SELECT actor, outcome, status, target FROM audit_log WHERE action = 'hl7.view' ORDER BY id");
      expect(rows.map((r) => [r.actor, r.outcome, r.status, r.target])).toEqual([
        ['token:rejects-viewer', 'denied', 403, `reject ${t!.id}`],
        ['token:rejects-operator', 'ok', 200, `reject ${t!.id}`],
      ]);
    } finally {
      await db.end();
    }
  });

  it('lists frames that hold NUL bytes (NUL padding, UTF-16 without a byte order mark) with the others: one made the listing fail (500) on every page that held it', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const padded = Buffer.concat([Buffer.from(a08('PADDER', 'WESTWING', 'REJ-NUL-1', 'P')), Buffer.alloc(4)]);
    expect((await client.send(padded)).get('MSA-1')).toBe('AR');
    expect((await client.send(Buffer.from(a08('WIDE', 'UTF16LAND', 'REJ-U16-1', 'P'), 'utf16le'))).get('MSA-1')).toBe('AR');
    client.close();
    const listed = await get<{ rejects: Reject[] }>('/api/hl7/rejects?limit=2');
    expect(listed.status).toBe(200);
    // the header before the NULs is read as for any frame; a frame whose first NUL comes before it has none
    expect(listed.body.rejects.map((r) => [r.sendingApplication, r.sendingFacility, r.controlId, r.errorCode])).toEqual([
      [null, null, null, 100],
      ['PADDER', 'WESTWING', 'REJ-NUL-1', 100],
    ]);
    expect((await get<Reject>(`/api/hl7/rejects/${listed.body.rejects[1]!.id}`)).body.sendingApplication).toBe('PADDER');
  });
});
