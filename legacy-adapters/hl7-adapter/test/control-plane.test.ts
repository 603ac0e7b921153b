/**
 * The HL7 adapter on the control plane: the adapter reads its rules from the rule store a
 * gateway's admin API writes (FICUS_RULES_SOURCE=store), and the admin API passes /api/hl7/*
 * through to the adapter's API with the caller's token (same tokens, roles and audit log).
 * An HL7 rule flipped from legacy to dual through the admin API sends the later messages to
 * the new service's queue as well; invalid HL7 rule changes are refused with rule id, field and
 * reason, and nothing changes. /api/hl7/stats answers in its exact shape. A component that
 * does not answer gets a problem body.
 * (contracts/test/rule-validation.test.ts proves the HL7 checks on rule files; here they are
 * proven on changes made through the admin API, and on the running adapter.)
 */
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { adminClient, startStoreGateway, type StoreGateway } from '../../../gateway/test/support/store-gateway.js';
import { freePort } from '../../../scripts/lib/local-services.js';
import { partitionOf } from '@ficus/contracts';
import { encodeFrame } from '@ficus/hl7-protocol';
import { hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let store: TestDatabase;
let inbound: TestInbound;
let a: AdapterUnderTest;
let gw: StoreGateway;
let admin: ReturnType<typeof adminClient>;
let adapterClosed = false;

beforeAll(async () => {
  store = await createTestDatabase(inject('databaseUrl'), 'hl7_control');
  inbound = new TestInbound();
  await inbound.start();
  const files = hl7Rules(inbound.url, 'legacy');
  // the adapter seeds the store from the same files the gateway would
  a = await startAdapterUnderTest({ files, ruleStoreUrl: store.url, env: { FICUS_RULES_SOURCE: 'store', FICUS_RULES_CHECK_MS: '300' } });
  gw = await startStoreGateway({
    storeUrl: store.url,
    redisUrl: inject('redisUrl'),
    files,
    env: { FICUS_HL7_API_URL: a.apiUrl, FICUS_CDC_API_URL: `http://127.0.0.1:${await freePort()}` },
  });
  admin = adminClient(gw.adminUrl);
});
afterAll(async () => {
  await gw?.close();
  if (!adapterClosed) await a?.close();
  await inbound?.stop();
  await store?.drop();
});

async function send(messages: string[]): Promise<string[]> {
  const client = await MllpTestClient.open(a.adapter.port);
  const codes: string[] = [];
  for (const m of messages) codes.push((await client.send(m)).get('MSA-1'));
  client.close();
  return codes;
}

interface Listed {
  id: number;
  controlId: string;
  deliveries: { target: string; status: string }[];
}

const listed = async (query: string) => (await admin.get<{ messages: Listed[] }>(`/api/hl7/messages${query}`)).body.messages;

describe('the admin API passes /api/hl7 through to the adapter', () => {
  it('with the caller\'s token: the same tokens, roles and audit log as the rules', async () => {
    expect(await send([syntheticMessage({ controlId: 'CP-1', mrn: 'C1' }), syntheticMessage({ controlId: 'CP-2', mrn: 'C2', type: 'ORU', trigger: 'R01' })])).toEqual(['AA', 'AA']);
    const all = await admin.get<{ messages: Listed[] }>('/api/hl7/messages?type=ADT');
    expect(all.status).toBe(200);
    expect(all.body.messages.map((m) => m.controlId)).toEqual(['CP-1']);

    const anonymous = await adminClient(gw.adminUrl, '').get('/api/hl7/messages');
    expect(anonymous.status).toBe(401);
    expect(anonymous.type).toMatch(/^application\/problem\+json/);

    const viewer = await admin.post<{ token: string }>('/api/tokens', { name: 'ward-viewer', role: 'viewer', reason: 'test' });
    const asViewer = adminClient(gw.adminUrl, viewer.body.token);
    expect((await asViewer.get('/api/hl7/dead-letters')).status).toBe(200);
    expect((await asViewer.get(`/api/hl7/messages/${all.body.messages[0]!.id}?raw=true`)).status).toBe(403);
    const denied = await asViewer.post('/api/hl7/replay', { messageId: all.body.messages[0]!.id, reason: 'viewer tries' });
    expect(denied.status).toBe(403);

    // a caller claiming another address through X-Forwarded-For is not believed (the admin API trusts no proxy here)
    const replay = await fetch(`${gw.adminUrl}/api/hl7/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(await admin.post<{ token: string }>('/api/tokens', { name: 'hl7-operator', role: 'operator', reason: 'test' })).body.token}`, 'content-type': 'application/json', 'x-forwarded-for': '10.9.8.7' },
      body: JSON.stringify({ messageId: all.body.messages[0]!.id, reason: 'legacy lost it' }),
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ messages: 1, deliveries: 1 });
    const audit = await admin.get<{ entries: { actor: string; action: string; outcome: string; reason: string; sourceIp: string }[] }>('/api/audit?action=hl7.replay');
    expect(audit.body.entries.map((e) => [e.actor, e.action, e.outcome, e.reason])).toEqual([
      ['token:hl7-operator', 'hl7.replay', 'ok', 'legacy lost it'],
      ['token:ward-viewer', 'hl7.replay', 'denied', 'viewer tries'],
    ]);
    expect(audit.body.entries[0]!.sourceIp).toMatch(/127\.0\.0\.1$/);
    // the replay's entry says what was chosen and where it went, not only how much
    const replayed = await admin.get<{ entries: { detail: Record<string, unknown> }[] }>('/api/audit?action=hl7.replay&outcome=ok');
    expect(replayed.body.entries[0]!.detail).toEqual({ messageId: all.body.messages[0]!.id, target: 'their own targets', max: 10_000, messages: 1, deliveries: 1 });
    // a viewer's look at the message itself, refused, is on the record too
    const views = await admin.get<{ entries: { actor: string; outcome: string; status: number; target: string }[] }>('/api/audit?action=hl7.view');
    expect(views.body.entries.map((e) => [e.actor, e.outcome, e.status, e.target])).toEqual([['token:ward-viewer', 'denied', 403, `message ${all.body.messages[0]!.id}`]]);
    // the replay is delivered (before the next test counts deliveries)
    await until(async () => {
      const d = (await listed('?controlId=CP-1'))[0]!.deliveries;
      return d.length === 2 && d.every((x) => x.status === 'delivered') ? true : undefined;
    }, 'the replay delivered');
  });

  it('a replay of a message id not stored answers 404 naming it, adds nothing and is audited as refused; filters that match nothing answer 200 with 0', async () => {
    const messages = new pg.Pool({ connectionString: a.messageDb.url, max: 1 });
    try {
      const count = async (sql: string) => Number((await messages.query<{ n: string }>(sql)).rows[0]!.n);
      const missing = (await count('SELECT coalesce(max(id), 0) AS n FROM hl7_messages')) + 1000;
      const deliveriesBefore = await count('SELECT count(*) AS n FROM hl7_deliveries');
      const unknown = await admin.post<{ type: string; title: string; status: number; detail: string }>('/api/hl7/replay', { messageId: missing, type: 'ADT', reason: 'legacy lost it' });
      expect(unknown.status).toBe(404);
      expect(unknown.type).toMatch(/^application\/problem\+json/);
      expect(unknown.body).toEqual({ type: 'https://ficus.dev/problems/unknown-message', title: 'No such message', status: 404, detail: `no stored message ${missing}: nothing replayed` });
      // a stored message the type filter leaves out, and a time range with nothing in it: answers, not errors
      const [cp1] = await listed('?controlId=CP-1');
      const otherType = await admin.post('/api/hl7/replay', { messageId: cp1!.id, type: 'ORU', reason: 'only results' });
      expect([otherType.status, otherType.body]).toEqual([200, { messages: 0, deliveries: 0 }]);
      const range = { from: '2000-01-01T00:00:00.000Z', to: '2000-01-02T00:00:00.000Z' };
      const empty = await admin.post('/api/hl7/replay', { ...range, reason: 'nothing then' });
      expect([empty.status, empty.body]).toEqual([200, { messages: 0, deliveries: 0 }]);
      expect(await count('SELECT count(*) AS n FROM hl7_deliveries')).toBe(deliveriesBefore);
      const audit = await admin.get<{ entries: { target: string; outcome: string; status: number; reason: string; detail: Record<string, unknown> }[] }>('/api/audit?action=hl7.replay&limit=3');
      expect(audit.body.entries.map((e) => [e.target, e.outcome, e.status, e.reason, e.detail])).toEqual([
        [`messages ${range.from} to ${range.to}`, 'ok', 200, 'nothing then', { ...range, target: 'their own targets', max: 10_000, messages: 0, deliveries: 0 }],
        [`message ${cp1!.id}`, 'ok', 200, 'only results', { messageId: cp1!.id, type: 'ORU', target: 'their own targets', max: 10_000, messages: 0, deliveries: 0 }],
        [`message ${missing}`, 'refused', 404, 'legacy lost it', { messageId: missing, type: 'ADT', target: 'their own targets', max: 10_000, why: 'no stored message' }],
      ]);
    } finally {
      await messages.end();
    }
  });

  it('/api/hl7/stats: messages by type and event, ACKs by code, refusals, and deliveries per target, in exactly that shape', async () => {
    const since = new Date().toISOString();
    // ACKs and refusals are counted per minute: what this minute had before counts too
    const before = (await admin.get<{ acks: { code: string; count: number }[]; rejected: number }>(`/api/hl7/stats?since=${encodeURIComponent(since)}`)).body;
    const acksBefore = (code: string) => before.acks.find((x) => x.code === code)?.count ?? 0;
    const client = await MllpTestClient.open(a.adapter.port);
    for (const [i, m] of [syntheticMessage({ controlId: 'ST-1', mrn: 'S1', trigger: 'A01' }), syntheticMessage({ controlId: 'ST-2', mrn: 'S2', trigger: 'A01' }), syntheticMessage({ controlId: 'ST-3', mrn: 'S1', type: 'ORU', trigger: 'R01' })].entries()) {
      expect((await client.send(m)).get('MSA-1'), String(i)).toBe('AA');
    }
    expect((await client.send(syntheticMessage({ controlId: 'ST-1', mrn: 'S1', trigger: 'A01' }))).get('MSA-1')).toBe('AA'); // a resend
    expect((await client.send('this is not HL7')).get('MSA-1')).toBe('AR');
    client.close();
    await until(async () => ((await listed('?controlId=ST-3'))[0]?.deliveries[0]?.status === 'delivered' ? true : undefined), 'delivered');
    const stats = await until(async () => {
      const s = (await admin.get<{ deliveries: { target: string; delivered: number }[] }>(`/api/hl7/stats?since=${encodeURIComponent(since)}`)).body;
      return s.deliveries.find((d) => d.target === 'legacy:legacy-hl7')?.delivered === 3 ? s : undefined;
    }, 'three deliveries counted');
    expect(JSON.stringify(Object.keys(stats))).toBe('["since","messages","acks","rejected","deliveries"]');
    expect(stats).toEqual({
      since,
      messages: [
        { type: 'ADT', trigger: 'A01', count: 2 },
        { type: 'ORU', trigger: 'R01', count: 1 },
      ],
      acks: [
        { code: 'AA', count: acksBefore('AA') + 4 },
        { code: 'AR', count: acksBefore('AR') + 1 },
      ],
      rejected: before.rejected + 1,
      deliveries: [
        { target: 'legacy:legacy-hl7', pending: 0, dead: 0, delivered: 3, gaveUp: null },
        { target: 'queue:patient-service', pending: 0, dead: 0, delivered: 0, gaveUp: 0 },
        { target: 'queue:results-service', pending: 0, dead: 0, delivered: 0, gaveUp: 0 },
      ],
    });
    // the default window is the last hour; a window in the future counts nothing yet
    const later = (await admin.get<{ messages: unknown[]; rejected: number }>(`/api/hl7/stats?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).body;
    expect([later.messages, later.rejected]).toEqual([[], 0]);
    const hour = (await admin.get<{ since: string }>('/api/hl7/stats')).body;
    expect(Math.abs(Date.parse(hour.since) - (Date.now() - 3_600_000))).toBeLessThan(60_000);
  });

  it('documents /api/hl7 and /api/cdc in the OpenAPI document, as tagged pass-through routes', async () => {
    const doc = (await (await fetch(`${gw.adminUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { tags?: string[]; summary?: string }>> };
    const hl7 = Object.entries(doc.paths).find(([p]) => p.startsWith('/api/hl7/'));
    const cdc = Object.entries(doc.paths).find(([p]) => p.startsWith('/api/cdc/'));
    expect(hl7?.[1].get?.tags).toEqual(['hl7']);
    expect(hl7?.[1].post?.summary).toContain('FICUS_HL7_API_URL');
    expect(cdc?.[1].get?.tags).toEqual(['cdc']);
  });

  it('answers 503 component-unavailable for a component that does not run (the CDC reader, not built yet)', async () => {
    const res = await admin.get<{ type: string; detail: string }>('/api/cdc/positions');
    expect(res.status).toBe(503);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toBe('https://ficus.dev/problems/component-unavailable');
    expect(res.body.detail).toContain('FICUS_CDC_API_URL');
  });
});

describe('HL7 rules on the control plane', () => {
  it('a flip from legacy to dual through the admin API: later messages go to the queue as well', async () => {
    expect(await send([syntheticMessage({ controlId: 'FLIP-0', mrn: 'F1' })])).toEqual(['AA']);
    const before = (await listed('?controlId=FLIP-0'))[0]!;
    expect(before.deliveries.map((d) => d.target)).toEqual(['legacy:legacy-hl7']);

    const { current } = (await admin.get<{ current: number }>('/api/versions?limit=1')).body;
    const flip = await admin.post<{ version: number; change: { summary: string } }>('/api/rules/adt/flip', { mode: 'dual', reason: 'feed patient-service', baseVersion: current });
    expect(flip.status).toBe(200);
    expect(flip.body.change.summary).toBe('adt: legacy → dual (patient-service)');

    // the adapter hears of the new version (Redis, or the periodic check): send until a message goes to both
    let n = 0;
    const dual = await until(async () => {
      const id = `FLIP-${++n}`;
      await send([syntheticMessage({ controlId: id, mrn: 'F1' })]);
      const m = (await listed(`?controlId=${id}`))[0]!;
      return m.deliveries.length === 2 ? m : undefined;
    }, 'a message routed by the flipped rule');
    expect(dual.deliveries.map((d) => d.target)).toEqual(['legacy:legacy-hl7', 'queue:patient-service']);
    const queue = new Queue(`hl7.patient-service.p${partitionOf('F1', 8)}`, { connection: { url: inject('redisUrl') }, prefix: a.queuePrefix });
    try {
      const job = await until(() => queue.getJob(`message-${dual.id}`), 'the job in the queue');
      expect(job.data).toMatchObject({ controlId: dual.controlId, messageType: 'ADT', triggerEvent: 'A08', replay: false });
      expect(Buffer.from(job.data.raw as string, 'latin1').toString('latin1')).toContain(`|${dual.controlId}|`);
    } finally {
      await queue.close();
    }
  });

  it('refuses invalid HL7 rule changes with rule id, field and reason, and nothing changes', async () => {
    const { current } = (await admin.get<{ current: number }>('/api/versions?limit=1')).body;
    const rules = (await admin.get<{ upstreams: Record<string, unknown>; rules: unknown[]; hl7: { id: string; match: Record<string, unknown>; mode: string; target?: string }[] }>('/api/rules')).body;
    const ruleSet = (hl7: unknown[]) => ({ upstreams: rules.upstreams, http: rules.rules, hl7 });
    const [adt, results, rest] = [rules.hl7[0]!, rules.hl7[1]!, rules.hl7[2]!];
    const attempts: [Promise<{ status: number; body: { errors?: { ruleId: string; field: string; reason: string }[] } }>, { ruleId: string; field: string; reason: RegExp }][] = [
      [admin.post('/api/rules/adt/flip', { mode: 'new', target: 'patient-servce', reason: 'typo', baseVersion: current }), { ruleId: 'adt', field: 'target', reason: /^unknown target "patient-servce"/ }],
      [admin.post('/api/rules/adt/flip', { mode: 'canary', reason: 'an HTTP mode', baseVersion: current }), { ruleId: 'adt', field: 'mode', reason: /must be one of legacy, dual, new/ }],
      [
        admin.put('/api/rules', { ruleSet: ruleSet([{ ...adt, match: { messageTypes: ['ADT'], triggerEvents: ['a01'] } }, results, rest]), reason: 'bad trigger', baseVersion: current }),
        { ruleId: 'adt', field: 'triggerEvents', reason: /pattern/ },
      ],
      [admin.put('/api/rules', { ruleSet: ruleSet([rest, adt, results]), reason: 'catch-all first', baseVersion: current }), { ruleId: 'adt', field: 'match', reason: /can never match: rule "hl7-default"/ }],
    ];
    for (const [attempt, expected] of attempts) {
      const res = await attempt;
      expect(res.status).toBe(422);
      expect(res.body.errors?.[0]).toMatchObject({ ruleId: expected.ruleId, field: expected.field, reason: expect.stringMatching(expected.reason) });
    }
    expect((await admin.get<{ current: number }>('/api/versions?limit=1')).body.current).toBe(current);
    // the adapter still routes by the rules it had: ADT to legacy and the queue
    await send([syntheticMessage({ controlId: 'AFTER-REFUSED', mrn: 'F2' })]);
    expect((await listed('?controlId=AFTER-REFUSED'))[0]!.deliveries.map((d) => d.target)).toEqual(['legacy:legacy-hl7', 'queue:patient-service']);
  });
});

describe('a stored message through the admin API', () => {
  it('shows an operator a stored message decoded by its own charset, and its bytes', async () => {
    const polish = 'ŁÓDŹ';
    const iso88592 = Buffer.concat([
      Buffer.from(syntheticMessage({ controlId: 'CP-L2', mrn: 'C3' }).replace('|P|2.5||||\r', '|P|2.5||||||8859/2\r').split('TESTPATIENT')[0]!, 'latin1'),
      Buffer.from([0xa3, 0xd3, 0x44, 0xac]), // ŁÓDŹ in ISO 8859-2
      Buffer.from(syntheticMessage({ controlId: 'CP-L2', mrn: 'C3' }).split('TESTPATIENT')[1]!, 'latin1'),
    ]);
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(syntheticMessage({ controlId: 'CP-U8', mrn: 'C4', lastName: polish }), 'utf8')]);
    const client = await MllpTestClient.open(a.adapter.port);
    for (const frame of [iso88592, withBom]) {
      client.write(encodeFrame(frame));
      expect((await client.next()).get('MSA-1')).toBe('AA');
    }
    client.close();
    for (const [controlId, bytes, charset] of [['CP-L2', iso88592, '8859/2'], ['CP-U8', withBom, 'UNICODE UTF-8']] as const) {
      const [m] = await listed(`?controlId=${controlId}`);
      const shown = await admin.get<{ charset: string; raw: string; text: string }>(`/api/hl7/messages/${m!.id}?raw=true`);
      expect(shown.status).toBe(200);
      expect(shown.body.charset).toBe(charset);
      expect(Buffer.from(shown.body.raw, 'latin1').equals(bytes)).toBe(true);
      expect(shown.body.text).toMatch(new RegExp(`^MSH\\|.*\\rPID\\|1\\|\\|C\\d\\^\\^\\^GENHOSP\\^MR\\|\\|${polish}\\^`, 's'));
    }
  });
});

describe('the adapter away', () => {
  it('answers 503 component-unavailable with a problem body when the adapter does not answer', async () => {
    await a.close();
    adapterClosed = true;
    const res = await admin.get<{ type: string; title: string; detail: string }>('/api/hl7/messages');
    expect(res.status).toBe(503);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'https://ficus.dev/problems/component-unavailable', title: 'The HL7 adapter is unavailable' });
    expect(res.body.detail).toContain(a.apiUrl);
  });
});
