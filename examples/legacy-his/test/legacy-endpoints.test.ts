import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildLegacyHis, pseudoRandomStream, type UploadReceipt } from '../src/index.js';
import { getJson, sqlValue, startHarness, type Harness } from '../../../test-support/legacy-his.js';

const MIB = 1024 * 1024;
let his: Harness;
beforeAll(async () => {
  his = await startHarness('legacy_endpoints', { patients: 1200, seed: 3 });
});
afterAll(async () => {
  await his?.close();
});

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** a raw HTTP exchange, to see the framing headers fetch hides */
function rawGet(url: string): Promise<{ headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('GET /reports/census.html', () => {
  it('is an HTML page with the open admissions per ward', async () => {
    const res = await fetch(`${his.base}/reports/census.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toMatch(/^<!DOCTYPE html>/);
    const open = await sqlValue<number>(his.pool, 'SELECT count(*)::int AS v FROM ADMISSION WHERE DSCH_DT IS NULL');
    expect(open).toBeGreaterThan(0);
    expect(html).toContain(`<TH ALIGN="right" ID="census-total">${open}</TH>`);
    expect(html.match(/<TR><TD>/g)).toHaveLength(await sqlValue<number>(his.pool, 'SELECT count(*)::int AS v FROM WARD'));
    const icu = await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM ADMISSION WHERE DSCH_DT IS NULL AND WARD_CD = 'ICU'`);
    expect(html).toContain(`<TR><TD>ICU</TD><TD>INTENSIVE CARE UNIT</TD><TD ALIGN="right">${icu}</TD>`);
  });
});

describe('GET /export/patients.csv', () => {
  it('streams every patient as CSV, chunked, with a header line', async () => {
    const { headers, body } = await rawGet(`${his.base}/export/patients.csv`);
    expect(headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(headers['content-disposition']).toBe('attachment; filename="patients.csv"');
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(headers['content-length']).toBeUndefined();
    const lines = body.split('\r\n');
    expect(lines.pop()).toBe(''); // the last line ends with CRLF too
    const patients = await sqlValue<number>(his.pool, 'SELECT count(*)::int AS v FROM PATIENT_MASTER');
    expect(lines).toHaveLength(patients + 1);
    expect(lines[0]).toBe('PAT_MRN,PAT_LAST_NM,PAT_FIRST_NM,PAT_MID_NM,PAT_DOB,SEX_CD,ADDR_LINE1,CITY_NM,STATE_CD,ZIP_CD,PHONE_NO,MARITAL_CD,ACTIVE_FLG,LAST_UPD_DT');
    expect(lines.slice(1).every((l) => l.split(',').length === 14)).toBe(true);
    const mrns = lines.slice(1).map((l) => l.split(',')[0] as string);
    expect(new Set(mrns).size).toBe(patients);
    expect([...mrns].sort()).toEqual(mrns);
    const first = await his.pool.query<{ pat_last_nm: string; pat_dob: string }>(
      `SELECT PAT_LAST_NM, to_char(PAT_DOB, 'YYYY-MM-DD') AS PAT_DOB FROM PATIENT_MASTER WHERE PAT_MRN = '100001'`,
    );
    expect(lines[1]).toMatch(new RegExp(`^100001,${first.rows[0]?.pat_last_nm},[^,]*,[^,]*,${first.rows[0]?.pat_dob},`));
  });

  it('quotes a value holding a comma or a quote', async () => {
    await his.pool.query(`UPDATE PATIENT_MASTER SET ADDR_LINE1 = '1 "OLD" MILL, UNIT 2' WHERE PAT_MRN = '100002'`);
    const text = await (await fetch(`${his.base}/export/patients.csv`)).text();
    const line = text.split('\r\n').find((l) => l.startsWith('100002,'));
    expect(line).toContain(',"1 ""OLD"" MILL, UNIT 2",');
  });
});

describe('GET and HEAD /files/download', () => {
  it('answers HEAD with the length and type of the download, and no body', async () => {
    const res = await fetch(`${his.base}/files/download?sizeMb=5`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(5 * MIB));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="download-5MiB.bin"');
    expect(await res.text()).toBe('');
  });

  it('streams N MiB of the same deterministic bytes every time', async () => {
    const res = await fetch(`${his.base}/files/download?sizeMb=3`);
    expect(res.headers.get('content-length')).toBe(String(3 * MIB));
    const got = await sha256Of(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>));
    expect(got.bytes).toBe(3 * MIB);
    expect(got).toEqual(await sha256Of(pseudoRandomStream(3 * MIB)));
    // the default is 1 MiB, and a smaller download is a prefix of a larger one
    const small = Buffer.from(await (await fetch(`${his.base}/files/download`)).arrayBuffer());
    const large = Buffer.from(await (await fetch(`${his.base}/files/download?sizeMb=2`)).arrayBuffer());
    expect(small.length).toBe(MIB);
    expect(large.length).toBe(2 * MIB);
    expect(large.subarray(0, MIB).equals(small)).toBe(true);
    expect(small.equals(Buffer.alloc(MIB))).toBe(false);
  });

  it('refuses a size over 1024 MiB or not a number', async () => {
    for (const q of ['sizeMb=1025', 'sizeMb=abc', 'sizeMb=-1', 'sizeMb=1.5']) {
      const r = await getJson<{ errorCode: string }>(`${his.base}/files/download?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.errorCode).toBe('FIL-400');
    }
  });
});

describe('POST /files/upload', () => {
  it('hashes a streamed 20 MiB upload without a Content-Length', async () => {
    const size = 20 * MIB;
    const expected = await sha256Of(pseudoRandomStream(size, 42));
    const res = await fetch(`${his.base}/files/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(pseudoRandomStream(size, 42)) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect((await res.json()) as UploadReceipt).toEqual(expected);
  });

  it('takes any content type, and an empty body', async () => {
    const body = Buffer.from('{"not": "parsed as JSON"}');
    const json = await getJson<UploadReceipt>(`${his.base}/files/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(json.body).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    const empty = await getJson<UploadReceipt>(`${his.base}/files/upload`, { method: 'POST' });
    expect(empty.body).toEqual({ bytes: 0, sha256: createHash('sha256').digest('hex') });
  });
});

describe('GET /reports/slow', () => {
  it('answers after the delay asked for', async () => {
    const started = performance.now();
    const res = await fetch(`${his.base}/reports/slow?delayMs=700`);
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('SLOW REPORT COMPLETE\nDELAY MS: 700\n');
    expect(elapsed).toBeGreaterThanOrEqual(690);
    expect(elapsed).toBeLessThan(5000);
  });

  it('refuses a delay over 60 s', async () => {
    const r = await getJson<{ errorCode: string }>(`${his.base}/reports/slow?delayMs=60001`);
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe('RPT-400');
  });
});

describe('GET /ws/echo', () => {
  it('echoes text and binary messages over a WebSocket', async () => {
    const ws = new WebSocket(`${his.base.replace('http', 'ws')}/ws/echo`);
    const received: { data: Buffer; binary: boolean }[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer, binary: boolean) => {
        received.push({ data, binary });
        if (received.length === 2) resolve();
      });
    });
    ws.send('hello ward 7');
    ws.send(Buffer.from([0, 1, 2, 250]), { binary: true });
    await done;
    ws.close();
    expect(received[0]).toEqual({ data: Buffer.from('hello ward 7'), binary: false });
    expect(received[1]).toEqual({ data: Buffer.from([0, 1, 2, 250]), binary: true });
  });

  it('answers a plain GET with 426', async () => {
    const r = await getJson<{ errorCode: string }>(`${his.base}/ws/echo`);
    expect(r.status).toBe(426);
    expect(r.body.errorCode).toBe('HIS-426');
  });
});

describe('health', () => {
  it('answers /healthz and /readyz when the database is up', async () => {
    expect(await getJson(`${his.base}/healthz`)).toMatchObject({ status: 200, body: { status: 'UP' } });
    expect(await getJson(`${his.base}/readyz`)).toMatchObject({ status: 200, body: { status: 'UP', database: 'UP' } });
  });

  it('answers /readyz 503 when the database is unreachable, /healthz still 200', async () => {
    const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/nowhere', connectionTimeoutMillis: 500 });
    const app = await buildLegacyHis({ pool: deadPool });
    try {
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      const ready = await app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'DOWN', database: 'DOWN' });
    } finally {
      await app.close();
      await deadPool.end();
    }
  });
});
