/**
 * Shadow mode through a real gateway on a real rule store: legacy's answer reaches the client
 * unchanged whatever the new service does (matches, differs, fails, refuses, has not answered), the
 * copy carries x-ficus-shadow and is compared, writes are copied only when a rule opts in, and
 * noise learnt from a second legacy call is not counted.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { HeldAnswers } from './support/held-answers.js';
import { rawRequest, type RawResponse } from './support/raw-http.js';
import { legacyHandler, mrnOf, patient, sendJson, settled } from './support/shadow-scene.js';
import { startStoreGateway, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
/** requests sent to patients-read so far */
let sent = 0;

const rules = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
`,
  '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    shadow: { timeoutMs: 8000 }
  - id: patients-plain
    match: { methods: [GET], path: /plain/patients/:mrn }
    mode: legacy
  - id: notes-write
    match: { methods: [POST], path: /api/notes }
    mode: shadow
    target: patient-service
  - id: orders-write
    match: { methods: [POST], path: /api/orders }
    mode: shadow
    target: patient-service
    shadow: { writes: true }
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters/:mrn }
    mode: shadow
    target: patient-service
    compare: { learnNoise: true }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'shadow');
  legacy = await startTestUpstream('legacy', legacyHandler());
  fresh = await startTestUpstream('new', (req, res) => sendJson(res, 200, patient(mrnOf(req))));
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

/** The answer as the client sees it, minus the route label (it names the rule). */
function seen(r: RawResponse) {
  return { status: r.status, statusText: r.statusText, headers: r.rawHeaders.filter(([k]) => k.toLowerCase() !== 'x-ficus-route'), body: r.body.toString('latin1') };
}

async function both(mrn: string) {
  const headers = { 'x-request-id': `req-${mrn}` };
  const shadowed = await rawRequest(gw.url, 'GET', `/api/patients/${mrn}`, headers);
  sent++;
  const plain = await rawRequest(gw.url, 'GET', `/plain/patients/${mrn}`, headers);
  return { shadowed, plain };
}

const compared = (rule: string, result: 'match' | 'mismatch') => gw.gateway.recorder.compared.get(rule)?.get(result) ?? 0;

describe('shadow mode', () => {
  it('never changes the client\'s answer, whether the new service matches, differs or fails', async () => {
    const behaviours = [
      () => fresh.behave((req, res) => sendJson(res, 200, patient(mrnOf(req)))),
      () => fresh.behave((req, res) => sendJson(res, 200, { ...patient(mrnOf(req)), name: 'OTHER^NAME', extra: [1, 2] }, { 'content-type': 'application/json' })),
      () => fresh.behave((_req, res) => sendJson(res, 500, { error: 'boom' })),
      () => fresh.behave((_req, res) => res.socket?.destroy()),
    ];
    for (const [i, behave] of behaviours.entries()) {
      behave();
      const { shadowed, plain } = await both(String(100 + i));
      expect(seen(shadowed)).toEqual(seen(plain));
      expect(shadowed.rawHeaders).toContainEqual(['x-ficus-route', 'patients-read; legacy']);
    }
    await settled(gw.gateway, 'patients-read', sent);
    expect(compared('patients-read', 'match')).toBe(1);
    expect(compared('patients-read', 'mismatch')).toBe(3);
    // the copies were marked as such, with the client's request id; the one dropped without an
    // answer on a reused connection looks like the keep-alive race, so it went once more on a new one
    const copies = fresh.received.filter((r) => r.url.startsWith('/api/patients/'));
    expect(copies).toHaveLength(5);
    expect(copies.every((r) => r.headers['x-ficus-shadow'] === '1')).toBe(true);
    expect(copies.map((r) => r.headers['x-request-id'])).toEqual(['req-100', 'req-101', 'req-102', 'req-103', 'req-103']);
  });

  it('answers from a refusing new service without delay, and counts it as a mismatch', async () => {
    await fresh.stop();
    try {
      const before = compared('patients-read', 'mismatch');
      const { shadowed, plain } = await both('120');
      expect(seen(shadowed)).toEqual(seen(plain));
      await settled(gw.gateway, 'patients-read', sent);
      expect(compared('patients-read', 'mismatch')).toBe(before + 1);
    } finally {
      await fresh.restart();
    }
  });

  it('a new service that has not answered does not delay the client: the copy is still pending when the answer is in', async () => {
    let started = 0;
    let answered = 0;
    // the new service answers when the test says, after the client has its answer (a sleep of 5 s
    // bet on the client being served in less)
    const held = new HeldAnswers();
    fresh.behave((req, res) => {
      started++;
      held.hold(() => {
        answered++;
        sendJson(res, 200, patient(mrnOf(req)));
      });
    });
    // without shadowing, then with
    const t0 = performance.now();
    await rawRequest(gw.url, 'GET', '/plain/patients/200');
    const plainMs = performance.now() - t0;
    const t1 = performance.now();
    const r = await rawRequest(gw.url, 'GET', '/api/patients/200');
    const shadowMs = performance.now() - t1;
    sent++;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual(patient('200'));
    // the client has its whole answer, and the new service has not answered
    expect(answered).toBe(0);
    console.log(`client latency: ${plainMs.toFixed(1)} ms without shadowing, ${shadowMs.toFixed(1)} ms with a shadow target that has not answered`);
    // the copy did go out, and is still being waited for
    await held.arrived(1, 'the copy at the new service');
    expect(started).toBe(1);
    expect(answered).toBe(0);
    expect(gw.gateway.runtime.shadows.inflightOf('patients-read')).toBe(1);
    // it is compared once it ends (a match: same patient)
    const matches = compared('patients-read', 'match');
    held.release();
    await settled(gw.gateway, 'patients-read', sent);
    expect(answered).toBe(1);
    expect(compared('patients-read', 'match')).toBe(matches + 1);
    fresh.behave((req, res) => sendJson(res, 200, patient(mrnOf(req))));
  });

  it('does not copy writes unless the rule opts in, and then copies the body and marks it', async () => {
    fresh.received.length = 0;
    const a = await rawRequest(gw.url, 'POST', '/api/notes', { 'content-type': 'application/json' }, '{"note":"x"}');
    expect(a.status).toBe(201);
    await settled(gw.gateway, 'notes-write', 1);
    expect(gw.gateway.recorder.skips.get('notes-write')?.get('write-not-shadowed')).toBe(1);
    expect(fresh.received.filter((r) => r.method === 'POST')).toHaveLength(0);

    fresh.behave((_req, res) => sendJson(res, 201, { ok: true, id: 'new-1' }));
    const body = JSON.stringify({ order: 'CBC', mrn: '100001' });
    const b = await rawRequest(gw.url, 'POST', '/api/orders', { 'content-type': 'application/json' }, body);
    expect(b.status).toBe(201);
    expect(JSON.parse(b.body.toString())).toEqual({ ok: true, id: 'legacy-1' });
    await settled(gw.gateway, 'orders-write', 1);
    const copy = fresh.received.find((r) => r.method === 'POST' && r.url === '/api/orders');
    expect(copy?.headers['x-ficus-shadow']).toBe('1');
    expect(copy?.bodyBytes).toBe(Buffer.byteLength(body));
    expect(legacy.received.find((r) => r.method === 'POST' && r.url === '/api/orders')?.bodyBytes).toBe(Buffer.byteLength(body));
    // the ids differ: a mismatch on /id
    expect(compared('orders-write', 'mismatch')).toBe(1);
    fresh.behave((req, res) => sendJson(res, 200, patient(mrnOf(req))));
  });

  it('learns noise from a second legacy call and does not count it', async () => {
    fresh.behave((req, res) => {
      const mrn = mrnOf(req);
      sendJson(res, 200, { ...patient(mrn), nonce: 999, ...(mrn === '6' ? { name: 'DIFFERENT^NAME' } : {}) });
    });
    const legacyCalls = legacy.received.filter((r) => r.url.startsWith('/api/encounters/')).length;
    await rawRequest(gw.url, 'GET', '/api/encounters/5');
    await rawRequest(gw.url, 'GET', '/api/encounters/6');
    await settled(gw.gateway, 'encounters-read', 2);
    expect(compared('encounters-read', 'match')).toBe(1);
    expect(compared('encounters-read', 'mismatch')).toBe(1);
    // each request: the client's legacy call and the second one that tells the noise
    expect(legacy.received.filter((r) => r.url.startsWith('/api/encounters/')).length - legacyCalls).toBe(4);
    const pool = new pg.Pool({ connectionString: db.url });
    const { rows } = await pool.query(`SELECT field, count FROM parity_field_totals WHERE rule = 'encounters-read'`).finally(() => pool.end());
    expect(rows).toEqual([{ field: '/name', count: '1' }]);
  });

  it('shows the figures in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/ficus_shadow_compared_total\{rule="patients-read",result="mismatch"\} 4/);
    expect(text).toMatch(/ficus_shadow_skipped_total\{rule="notes-write",reason="write-not-shadowed"\} 1/);
  });
});
