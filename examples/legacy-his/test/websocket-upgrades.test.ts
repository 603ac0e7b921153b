/**
 * Upgrade requests (Connection: Upgrade) on real sockets: only /ws/echo becomes a WebSocket;
 * any other route answers as plain HTTP, and no log line says the path or query of such a
 * request (they carry names, birth dates and MRNs). The log output is captured as written,
 * after the logger's own redaction.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '@ficus/contracts';
import { buildLegacyHis, migrateLegacy, seedLegacy } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';

let db: TestDatabase;
let pool: pg.Pool;
let app: FastifyInstance;
let port: number;
let patient: { mrn: string; last: string; first: string; dob: string };
const logs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'legacy_ws_upgrades');
  await migrateLegacy(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  await seedLegacy(pool, { patients: 20, seed: 5 });
  const { rows } = await pool.query<{ mrn: string; last: string; first: string; dob: string }>(
    `SELECT PAT_MRN AS mrn, PAT_LAST_NM AS last, PAT_FIRST_NM AS first, to_char(PAT_DOB, 'YYYY-MM-DD') AS dob FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 1`,
  );
  patient = rows[0]!;
  // every line as written (the stand-in's redaction applied), at every level, kept instead of printed
  const log = createLogger('legacy-his', { level: 'trace', hooks: { streamWrite: (line) => (logs.push(line), '') } });
  app = await buildLegacyHis({ pool, log });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await pool?.end();
  await db?.drop();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** whether the server closed the connection (within the wait) */
  closed: boolean;
}

/** One request as written, on a fresh connection; read until the server closes it, or for at most 3 s. */
function rawExchange(request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n'), closed });
    };
    const timer = setTimeout(() => finish(false), 3_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(true));
    socket.on('error', reject);
  });
}

const upgradeTo = (target: string) =>
  `GET ${target} HTTP/1.1\r\nHost: legacy.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

/** the log lines written since `from`, as one text */
const logsSince = (from: number) => logs.slice(from).join('');

function expectNoPhi(text: string) {
  for (const phi of [patient.mrn, patient.last, patient.first, patient.dob, 'ADAMS', 'BARBARA', '1999-07-30', '?name=', 'dob=']) expect(text).not.toContain(phi);
}

describe('an upgrade request to a route that speaks no WebSocket', () => {
  it("gets the route's plain HTTP answer, the connection is closed after it, and its path and query are not logged", async () => {
    const from = logs.length;
    const list = await rawExchange(upgradeTo(`/api/patients?name=${patient.last},${patient.first}&dob=${patient.dob}`));
    expect(list).toMatchObject({ status: 200, closed: true, headers: { connection: 'close' } });
    expect((JSON.parse(list.body) as { items: { mrn: string }[] }).items.map((p) => p.mrn)).toContain(patient.mrn);

    const one = await rawExchange(upgradeTo(`/api/patients/${patient.mrn}`));
    expect(one).toMatchObject({ status: 200, closed: true, headers: { connection: 'close' } });
    expect(JSON.parse(one.body)).toMatchObject({ mrn: patient.mrn, lastName: patient.last });

    const written = logsSince(from);
    expect(written).toContain('"route":"/api/patients"'); // the access log names the route pattern
    expect(written).toContain('"route":"/api/patients/:mrn"');
    expect(written).not.toContain('websocket');
    expectNoPhi(written);
  });

  it("gets the legacy's own errors for a bad query and an unknown path, and neither path is logged", async () => {
    const from = logs.length;
    const invalid = await rawExchange(upgradeTo(`/api/patients?name=ADAMS,BARBARA&dob=1999-07-32`));
    expect(invalid).toMatchObject({ status: 400, closed: true, headers: { connection: 'close' } });
    expect(JSON.parse(invalid.body)).toMatchObject({ errorCode: 'PAT-400' });

    const unknown = await rawExchange(upgradeTo(`/no/such/page?name=ADAMS,BARBARA&dob=1999-07-30`));
    expect(unknown).toMatchObject({ status: 404, closed: true, headers: { connection: 'close' } });
    expect(JSON.parse(unknown.body)).toMatchObject({ errorCode: 'HIS-404' });

    const written = logsSince(from);
    expect(written).toContain('"route":"(no route)"');
    expect(written).not.toContain('/no/such');
    expectNoPhi(written);
  });
});

describe('GET /ws/echo', () => {
  it('still becomes a WebSocket that echoes, and its query is not logged', async () => {
    const from = logs.length;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/echo?name=ADAMS,BARBARA&dob=1999-07-30`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    ws.send('bed board of ward 7');
    expect(await echoed).toBe('bed board of ward 7');
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
    expectNoPhi(logsSince(from));
  });
});
