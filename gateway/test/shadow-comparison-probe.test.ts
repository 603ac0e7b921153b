/**
 * What a probe of the demo stack found the comparison getting wrong, through a real gateway and
 * its admin API: a HEAD of a patient whose record differs counted as a match (status and
 * content type alone); a content type spelled another way (`application/json;charset=UTF-8`)
 * counted as a mismatch on every answer; a 404 against a 200 also listed every field of the
 * record as differing; a list with its first item missing read as every field of every item
 * changed. The legacy and the new service here answer as the legacy contract does: JSON bytes
 * with a strong ETag that hashes them.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { rawRequest } from './support/raw-http.js';
import { mrnOf, settled } from './support/shadow-scene.js';
import { adminClient, startStoreGateway, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: ReturnType<typeof adminClient>;

const rules = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
`,
  '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET, HEAD], path: /api/patients/:mrn }
    mode: shadow
    target: patient-service
    compare: { sampleRate: 1 }
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters/:mrn }
    mode: shadow
    target: patient-service
    compare: { sampleRate: 1 }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

const record = (mrn: string) => ({ mrn, lastName: 'TEST', firstName: `PATIENT${mrn}`, dateOfBirth: '1970-01-01', sex: 'F' });
const stays = (mrn: string) => [3, 2, 1].map((n) => ({ admissionId: Number(mrn) * 10 + n, admitDate: `2026-0${n}-01T08:00:00`, ward: { code: 'MED' }, bed: `${n}A` }));

/** As the legacy contract answers: exact bytes, their strong ETag, the length (HEAD: no body). */
function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8') {
  const text = JSON.stringify(body);
  res.sendDate = false;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    ...(status === 200 ? { etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` } : {}),
  });
  res.end(text);
}

const notFound = { errorCode: 'PAT-404', errorMessage: 'Patient not found' };

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'shadow_probe');
  legacy = await startTestUpstream('legacy', (req, res) => {
    const mrn = mrnOf(req);
    if ((req.url ?? '').startsWith('/api/encounters/')) return send(res, 200, { mrn, total: 3, items: stays(mrn) });
    send(res, 200, record(mrn));
  });
  // mrn 2: another birth date; 3: its content type spelled another way; 4: unknown to the service
  // 5: its newest stay missing
  fresh = await startTestUpstream('new', (req, res) => {
    const mrn = mrnOf(req);
    if ((req.url ?? '').startsWith('/api/encounters/')) {
      const items = mrn === '5' ? stays(mrn).slice(1) : stays(mrn);
      return send(res, 200, { mrn, total: items.length, items });
    }
    if (mrn === '2') return send(res, 200, { ...record(mrn), dateOfBirth: '1970-01-02' });
    if (mrn === '3') return send(res, 200, record(mrn), 'application/json;charset=UTF-8');
    if (mrn === '4') return send(res, 404, notFound);
    send(res, 200, record(mrn));
  });
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

const compared = (rule: string, result: 'match' | 'mismatch') => gw.gateway.recorder.compared.get(rule)?.get(result) ?? 0;
const sent = new Map<string, number>();

/** One request through the gateway, compared; the comparison's result and its kept sample, if any. */
async function probe(method: 'GET' | 'HEAD', path: string, rule = 'patients-read') {
  const before = { match: compared(rule, 'match'), mismatch: compared(rule, 'mismatch') };
  const r = await rawRequest(gw.url, method, path);
  expect(r.status).toBe(200);
  sent.set(rule, (sent.get(rule) ?? 0) + 1);
  await settled(gw.gateway, rule, sent.get(rule)!);
  const result = compared(rule, 'match') > before.match ? 'match' : compared(rule, 'mismatch') > before.mismatch ? 'mismatch' : 'none';
  const samples = await admin.get<{ samples: { method: string; fields: string[]; diff: { path: string; kind: string }[]; text: string }[] }>(`/api/parity/${rule}?window=1h&samples=1`);
  return { result, sample: result === 'mismatch' ? samples.body.samples[0] : undefined };
}

describe('what the shadow comparison counts', () => {
  it('a HEAD of a record that differs is a mismatch on its ETag and length; of an equal one, a match', async () => {
    expect((await probe('HEAD', '/api/patients/1')).result).toBe('match');
    const differs = await probe('HEAD', '/api/patients/2');
    // before: status and content type were all a HEAD compared, and this counted as a match
    expect(differs.result).toBe('mismatch');
    expect(differs.sample).toMatchObject({ method: 'HEAD', fields: ['header:etag'] });
    // the same length: one day later is as long as the day before
    expect(differs.sample!.text).not.toContain('content-length');
  });

  it('a content type spelled another way is the same content type', async () => {
    expect((await probe('GET', '/api/patients/3')).result).toBe('match');
    expect((await probe('HEAD', '/api/patients/3')).result).toBe('match');
  });

  it('a 404 against a 200 is a status mismatch, without the record\'s fields against the error\'s', async () => {
    const r = await probe('GET', '/api/patients/4');
    expect(r.result).toBe('mismatch');
    expect(r.sample!.fields).toEqual(['status']);
    expect(r.sample!.text).toBe('~ status: 200 → 404');
  });

  it('a list with its first item missing names that item, not every field of the items after it', async () => {
    expect((await probe('GET', '/api/encounters/6', 'encounters-read')).result).toBe('match');
    const r = await probe('GET', '/api/encounters/5', 'encounters-read');
    expect(r.result).toBe('mismatch');
    expect(r.sample!.fields.sort()).toEqual(['/items/*', '/total']);
    expect(r.sample!.diff).toEqual([
      { path: '/items/0', kind: 'removed', legacy: { admissionId: '‹number›', admitDate: '‹string›', ward: { code: '‹string›' }, bed: '‹string›' } },
      { path: '/total', kind: 'changed', legacy: '‹number›', target: '‹number›' },
    ]);
  });
});
