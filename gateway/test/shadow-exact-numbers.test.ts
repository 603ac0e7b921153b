/**
 * Through a real gateway in shadow mode, its parity store and admin API and the `ficus` CLI:
 * legacy answers an account number beyond 2^53 that the new service (in JavaScript) rounds, or
 * gives a key twice; read with JSON.parse, both counted as matches, evidence for the flip.
 * Now each is a mismatch whose kept sample shows the exact digits, or both values of the key,
 * while a number only written another way (1.0 for 1) still matches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { ficusRunner, type Ficus } from '../../cli/test/support/cli-scene.js';
import { rawRequest } from './support/raw-http.js';
import { mrnOf, settled } from './support/shadow-scene.js';
import { adminClient, startStoreGateway, type StoreGateway } from './support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: ReturnType<typeof adminClient>;
let home: string;
let ficus: Ficus;

const rules = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }
  patient-service: { url: "${newUrl}", healthCheck: { enabled: false } }
`,
  '10-http.yaml': `http:
  - id: accounts-read
    match: { methods: [GET], path: /api/accounts/:mrn }
    mode: shadow
    target: patient-service
    compare: { sampleRate: 1, keepValues: true }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

/** JSON as the upstream writes it, byte for byte: numbers and keys no JavaScript object could hold. */
function sendText(res: ServerResponse, text: string) {
  res.sendDate = false;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

// legacy, a system written in another language, and the new service in JavaScript, per MRN:
// 1 the account number rounded to a double; 2 a ward given twice; 3 numbers written another way;
// 4 legacy's account number a string that reads like a diff's exact number, the service's a number
const answers: Record<string, [legacy: string, service: string]> = {
  '1': ['{"mrn":"1","acct":9007199254740993,"balance":12.5}', '{"mrn":"1","acct":9007199254740992,"balance":12.5}'],
  '2': ['{"mrn":"2","ward":"7","ward":"9"}', '{"mrn":"2","ward":"9"}'],
  '3': ['{"mrn":"3","acct":9007199254740993.0,"balance":12.50}', '{"mrn":"3","acct":9007199254740993,"balance":12.5}'],
  '4': ['{"mrn":"4","acct":"‹9007199254740993›"}', '{"mrn":"4","acct":9007199254740993}'],
};

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'shadow_exact_numbers');
  legacy = await startTestUpstream('legacy', (req, res) => sendText(res, answers[mrnOf(req)]![0]));
  fresh = await startTestUpstream('new', (req, res) => sendText(res, answers[mrnOf(req)]![1]));
  gw = await startStoreGateway({ storeUrl: db.url, files: rules(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
  home = mkdtempSync(path.join(tmpdir(), 'ficus-exact-numbers-'));
  ficus = ficusRunner(gw.adminUrl, home, []);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const compared = (result: 'match' | 'mismatch') => gw.gateway.recorder.compared.get('accounts-read')?.get(result) ?? 0;
let sent = 0;

interface Sample {
  fields: string[];
  diff: { path: string; kind: string; legacy?: unknown; target?: unknown }[];
  text: string;
}

/** One request through the gateway, compared: the result and the sample the parity store kept. */
async function probe(mrn: string) {
  const before = { match: compared('match'), mismatch: compared('mismatch') };
  const r = await rawRequest(gw.url, 'GET', `/api/accounts/${mrn}`);
  // the client has legacy's answer exactly as legacy wrote it
  expect(r.body.toString('utf8')).toBe(answers[mrn]![0]);
  await settled(gw.gateway, 'accounts-read', ++sent);
  const result = compared('match') > before.match ? 'match' : compared('mismatch') > before.mismatch ? 'mismatch' : 'none';
  const samples = await admin.get<{ samples: Sample[] }>('/api/parity/accounts-read?window=1h&samples=1');
  return { result, sample: result === 'mismatch' ? samples.body.samples[0] : undefined };
}

describe('shadow comparison of what JSON.parse reads alike', () => {
  it('an account number beyond 2^53 rounded by the new service is a mismatch with its exact digits, in the API and the CLI', async () => {
    const r = await probe('1');
    expect(r.result).toBe('mismatch');
    expect(r.sample!.fields).toEqual(['/acct']);
    expect(r.sample!.diff).toEqual([{ path: '/acct', kind: 'changed', legacy: '‹9007199254740993›', target: 9007199254740992 }]);
    expect(r.sample!.text).toBe('~ /acct: 9007199254740993 → 9007199254740992');
    const cli = await ficus(['parity', 'accounts-read', '--samples', '1']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('~ /acct: 9007199254740993 → 9007199254740992');
  });

  it('a key legacy gives twice with two values is a mismatch at that key, both values shown', async () => {
    const r = await probe('2');
    expect(r.result).toBe('mismatch');
    expect(r.sample!.fields).toEqual(['/ward']);
    expect(r.sample!.text).toBe('~ /ward: {‹repeated key›:["7","9"]} → "9"');
  });

  it('a string "‹digits›" against that number is a mismatch, kept and shown as a string against a number', async () => {
    const r = await probe('4');
    expect(r.result).toBe('mismatch');
    expect(r.sample!.diff).toEqual([{ path: '/acct', kind: 'changed', legacy: '‹‹9007199254740993›', target: '‹9007199254740993›' }]);
    expect(r.sample!.text).toBe('~ /acct: "‹9007199254740993›" → 9007199254740993');
    const cli = await ficus(['parity', 'accounts-read', '--samples', '1']);
    expect(cli.stdout).toContain('~ /acct: "‹9007199254740993›" → 9007199254740993');
  });

  it('the same numbers written another way match', async () => {
    expect((await probe('3')).result).toBe('match');
  });
});
