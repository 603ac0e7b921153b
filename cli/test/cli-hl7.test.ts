/**
 * `ficus hl7 ...` as a real process, through a real gateway's admin API, which passes /api/hl7
 * through to a real HL7 adapter (MLLP listener, message store, dispatcher to a legacy inbound
 * and to BullMQ), all on one real rule store: listing and showing messages, dead letters,
 * replays (one message, a time range to a new target), stats, an HL7 rule flipped with
 * `ficus rules flip`, usage errors (exit 2), refusals (exit 1), and an adapter that is away.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { adminClient, startStoreGateway, type StoreGateway } from '../../gateway/test/support/store-gateway.js';
import { hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from '../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from '../../legacy-adapters/hl7-adapter/test/support/mllp-test-client.js';
import { readyz } from '../../legacy-adapters/hl7-adapter/test/support/emergency-scene.js';
import { TestInbound } from '../../legacy-adapters/hl7-adapter/test/support/test-inbound.js';
import { partitionOf } from '@ficus/contracts';
import { ficusRunner, parse, type Ficus, type Run } from './support/cli-scene.js';

let store: TestDatabase;
let inbound: TestInbound;
let a: AdapterUnderTest;
let gw: StoreGateway;
let admin: ReturnType<typeof adminClient>;
let dir: string;
/** the adapter's emergency override file (break glass), absent but for one test */
let emergencyFile: string;
let ficus: Ficus;
let adapterClosed = false;
const runs: Run[] = [];
const ids: Record<string, number> = {};

beforeAll(async () => {
  store = await createTestDatabase(inject('databaseUrl'), 'cli_hl7');
  inbound = new TestInbound();
  await inbound.start();
  // legacy refuses one message (a dead letter), once
  let refused = false;
  inbound.answer = (m) => {
    if (m.header.controlId !== 'CLI-DEAD' || refused) return 'AA';
    refused = true;
    return 'AE';
  };
  const files = hl7Rules(inbound.url, 'legacy');
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-cli-hl7-'));
  emergencyFile = path.join(dir, 'emergency-legacy.yaml');
  a = await startAdapterUnderTest({ files, ruleStoreUrl: store.url, env: { FICUS_RULES_SOURCE: 'store', FICUS_RULES_CHECK_MS: '300', FICUS_EMERGENCY_FILE: emergencyFile } });
  gw = await startStoreGateway({ storeUrl: store.url, redisUrl: inject('redisUrl'), files, env: { FICUS_HL7_API_URL: a.apiUrl } });
  admin = adminClient(gw.adminUrl);
  ficus = ficusRunner(gw.adminUrl, dir, runs);

  const client = await MllpTestClient.open(a.adapter.port);
  for (const m of [
    syntheticMessage({ controlId: 'CLI-1', mrn: 'P1', trigger: 'A01' }),
    syntheticMessage({ controlId: 'CLI-2', mrn: 'P2', trigger: 'A08' }),
    syntheticMessage({ controlId: 'CLI-3', mrn: 'P1', type: 'ORU', trigger: 'R01' }),
    syntheticMessage({ controlId: 'CLI-DEAD', mrn: 'P3', trigger: 'A08' }),
  ]) {
    expect((await client.send(m)).get('MSA-1')).toBe('AA');
  }
  client.close();
  const listed = await until(async () => {
    const r = await admin.get<{ messages: { id: number; controlId: string; deliveries: { status: string }[] }[] }>('/api/hl7/messages');
    return r.body.messages.every((m) => m.deliveries.every((d) => d.status !== 'pending')) ? r.body.messages : undefined;
  }, 'every delivery settled');
  for (const m of listed) ids[m.controlId] = m.id;
});
afterAll(async () => {
  await gw?.close();
  if (!adapterClosed) await a?.close();
  await inbound?.stop();
  await store?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ficus hl7: reading', () => {
  it('lists messages as a table and as the API\'s JSON, filtered', async () => {
    const [all, adt, dead, json, none] = await Promise.all([
      ficus(['hl7', 'messages']),
      ficus(['hl7', 'messages', '--type', 'adt', '--trigger', 'A08', '--since', '1h']),
      ficus(['hl7', 'messages', '--delivery', 'dead']),
      ficus(['hl7', 'messages', '--facility', 'GENHOSP', '--limit', '2', '--json']),
      ficus(['hl7', 'messages', '--until', '2020-01-01']),
    ]);
    for (const r of [all, adt, dead, json, none]) expect(r.code, r.stderr).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^ID\s+RECEIVED\s+TYPE\s+CONTROL ID\s+FACILITY\s+RULE\s+MODE\s+ACK\s+DELIVERIES$/);
    expect(all.stdout).toMatch(new RegExp(`^${ids['CLI-3']}\\s+\\S+\\s+ORU\\^R01\\s+CLI-3\\s+GENHOSP\\s+results\\s+legacy\\s+AA\\s+legacy:legacy-hl7 delivered$`, 'm'));
    expect(adt.stdout.match(/CLI-\w+/g)).toEqual(['CLI-DEAD', 'CLI-2']);
    expect(dead.stdout).toMatch(/CLI-DEAD\s+GENHOSP\s+adt\s+legacy\s+AA\s+legacy:legacy-hl7 dead$/m);
    expect(parse(json)).toEqual((await admin.get('/api/hl7/messages?facility=GENHOSP&limit=2')).body);
    expect(none.stdout.trim()).toBe('no HL7 messages match');
    // listings never show the message itself
    for (const r of [all, adt, dead, json]) expect(r.stdout).not.toContain('TESTPATIENT');
  });

  it('shows one message, and the message itself only with --raw', async () => {
    const [show, raw, missing] = await Promise.all([
      ficus(['hl7', 'show', String(ids['CLI-1'])]),
      ficus(['hl7', 'show', String(ids['CLI-1']), '--raw']),
      ficus(['hl7', 'show', '999999']),
    ]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^type:\s+ADT\^A01$/m);
    expect(show.stdout).toMatch(/^control id:\s+CLI-1$/m);
    expect(show.stdout).toMatch(/^rule:\s+adt \(legacy\)$/m);
    expect(show.stdout).toMatch(/legacy:legacy-hl7\s+delivered\s+1\s/);
    expect(show.stdout).not.toContain('PID|');
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toMatch(/^MSH\|\^~\\&\|REGSYS\|GENHOSP\|.*\|CLI-1\|/m);
    expect(raw.stdout).toMatch(/^PID\|1\|\|P1\^\^\^GENHOSP\^MR\|\|TESTPATIENT/m);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('refused (404): No such message: no message 999999');
    // a viewer may list but not read the message itself
    const viewer = await admin.post<{ token: string }>('/api/tokens', { name: 'cli-hl7-viewer', role: 'viewer', reason: 'test' });
    const denied = await ficus(['hl7', 'show', String(ids['CLI-1']), '--raw'], { env: { FICUS_TOKEN: viewer.body.token } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('refused (403)');
    expect(denied.stdout).toBe('');
  });

  it('shows the dead letters, and the counts', async () => {
    const [dead, deadJson, stats, statsJson] = await Promise.all([
      ficus(['hl7', 'dead-letters']),
      ficus(['hl7', 'dead-letters', '--target', 'legacy:legacy-hl7', '--json']),
      ficus(['hl7', 'stats', '--since', '1h']),
      ficus(['hl7', 'stats', '--json']),
    ]);
    for (const r of [dead, deadJson, stats, statsJson]) expect(r.code, r.stderr).toBe(0);
    expect(dead.stdout).toMatch(new RegExp(`^\\d+\\s+${ids['CLI-DEAD']}\\s+\\S+\\s+legacy:legacy-hl7\\s+ADT\\^A08\\s+CLI-DEAD\\s+1\\s+AE\\s+-$`, 'm'));
    expect(parse<{ deadLetters: { controlId: string; answer: string }[] }>(deadJson).deadLetters.map((d) => [d.controlId, d.answer.slice(0, 2)])).toEqual([['CLI-DEAD', 'AE']]);
    expect(stats.stdout).toMatch(/^ADT\s+A08\s+2$/m);
    expect(stats.stdout).toMatch(/^ORU\s+R01\s+1$/m);
    expect(stats.stdout).toMatch(/^AA\s+\d+$/m);
    expect(stats.stdout).toMatch(/^legacy:legacy-hl7\s+0\s+1\s+3\s+-$/m);
    const s = parse<{ since: string; deliveries: { target: string; dead: number }[] }>(statsJson);
    expect(Object.keys(s)).toEqual(['since', 'messages', 'acks', 'rejected', 'deliveries']);
    expect(s.deliveries.find((d) => d.target === 'legacy:legacy-hl7')?.dead).toBe(1);
  });
});

describe('ficus hl7 rejects', () => {
  it('lists the frames refused at intake with why (table and JSON), one by id, and the frame itself only with --raw to an operator', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const training = syntheticMessage({ controlId: 'CLI-REJ-1', mrn: 'P9', facility: 'WESTWING' }).replace('|P|2.5|', '|T|2.5|');
    expect((await client.send(training)).get('MSA-1')).toBe('AR');
    client.close();
    const [list, json, none] = await Promise.all([ficus(['hl7', 'rejects']), ficus(['hl7', 'rejects', '--facility', 'WESTWING', '--json']), ficus(['hl7', 'rejects', '--application', 'NOSUCHAPP'])]);
    for (const r of [list, json, none]) expect(r.code, r.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+RECEIVED\s+APPLICATION\s+FACILITY\s+CONTROL ID\s+PEER\s+ERROR$/);
    expect(list.stdout).toMatch(/^\d+\s+\S+\s+REGSYS\s+WESTWING\s+CLI-REJ-1\s+\S+\s+202 MSH-11 \(processing id\) is T/m);
    const listed = parse<{ rejects: { id: number; controlId: string; errorCode: number }[] }>(json);
    expect(listed).toEqual((await admin.get('/api/hl7/rejects?facility=WESTWING')).body);
    expect(listed.rejects.map((r) => [r.controlId, r.errorCode])).toEqual([['CLI-REJ-1', 202]]);
    expect(none.stdout.trim()).toBe('no refused frames match');
    for (const r of [list, json]) expect(r.stdout).not.toContain('TESTPATIENT');

    const id = String(listed.rejects[0]!.id);
    const [one, raw, rawNoId] = await Promise.all([ficus(['hl7', 'rejects', id]), ficus(['hl7', 'rejects', id, '--raw']), ficus(['hl7', 'rejects', '--raw'])]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^error:\s+202 .*HL7_PROCESSING_IDS/m);
    expect(one.stdout).not.toContain('TESTPATIENT');
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toMatch(/^PID\|1\|\|P9\^\^\^GENHOSP\^MR\|\|TESTPATIENT/m);
    expect(rawNoId.code).toBe(2);
    const viewer = await admin.post<{ token: string }>('/api/tokens', { name: 'cli-hl7-rejects-viewer', role: 'viewer', reason: 'test' });
    const denied = await ficus(['hl7', 'rejects', id, '--raw'], { env: { FICUS_TOKEN: viewer.body.token } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('refused (403)');
  });
});

describe('ficus hl7 replay', () => {
  it('replays a dead letter: delivered this time, the dead letter resolved, the replay audited', async () => {
    const r = await ficus(['hl7', 'replay', '--message', String(ids['CLI-DEAD']), '--reason', 'legacy fixed the ward table']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('replayed 1 message: 1 delivery added (their own targets)');
    await until(async () => ((await admin.get<{ deadLetters: unknown[] }>('/api/hl7/dead-letters')).body.deadLetters.length === 0 ? true : undefined), 'the dead letter resolved');
    const [none, all] = await Promise.all([ficus(['hl7', 'dead-letters', '--target', 'legacy:legacy-hl7']), ficus(['hl7', 'dead-letters', '--all'])]);
    expect(none.stdout.trim()).toBe('no dead letters');
    expect(all.stdout).toMatch(/CLI-DEAD\s+1\s+AE\s+\d+$/m);
    expect(inbound.received.filter((x) => x.controlId === 'CLI-DEAD')).toHaveLength(1);
    const audit = await ficus(['audit', '--action', 'hl7.replay', '--json']);
    expect(parse<{ entries: { actor: string; target: string; reason: string }[] }>(audit).entries[0]).toMatchObject({
      actor: 'token:first-admin',
      target: `message ${ids['CLI-DEAD']}`,
      reason: 'legacy fixed the ward table',
    });
  });

  it('replays a time range of one type to a new service that never had it (a backfill)', async () => {
    const r = await ficus(['hl7', 'replay', '--from', '1h', '--to', new Date(Date.now() + 60_000).toISOString(), '--type', 'ADT', '--target', 'queue:patient-service', '--reason', 'backfill patient-service', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(parse(r)).toEqual({ messages: 3, deliveries: 3 });
    const queue = new Queue(`hl7.patient-service.p${partitionOf('P1', 8)}`, { connection: { url: inject('redisUrl') }, prefix: a.queuePrefix });
    try {
      const shown = await until(async () => {
        const m = (await admin.get<{ deliveries: { id: number; target: string; status: string; replay: boolean }[] }>(`/api/hl7/messages/${ids['CLI-1']}`)).body;
        const d = m.deliveries.find((x) => x.target === 'queue:patient-service');
        return d?.status === 'delivered' ? d : undefined;
      }, 'the backfill delivered');
      expect(shown.replay).toBe(true);
      const job = await queue.getJob(`replay-${shown.id}`);
      expect(job?.data).toMatchObject({ controlId: 'CLI-1', replay: true });
    } finally {
      await queue.close();
    }
  });

  it('exits 2 on usage errors and 1 on refusals, before or without changing anything', async () => {
    const usage = await Promise.all([
      ficus(['hl7', 'replay', '--message', '1']),
      ficus(['hl7', 'replay', '--message', '1', '--from', '1h', '--to', '0m', '--reason', 'x']),
      ficus(['hl7', 'replay', '--from', '1h', '--reason', 'x']),
      ficus(['hl7', 'replay', '--message', '1', '--target', 'patient-service', '--reason', 'x']),
      ficus(['hl7', 'messages', '--type', 'AD']),
    ]);
    for (const r of usage) expect(r.code, `${r.args.join(' ')}: ${r.stderr}`).toBe(2);
    expect(usage[1]!.stderr).toContain('give either --message <id>, or --from <time> and --to <time>');
    expect(usage[2]!.stderr).toContain('a time range needs both --from and --to');
    const unknown = await ficus(['hl7', 'replay', '--message', String(ids['CLI-1']), '--target', 'queue:billing-service', '--reason', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('refused (422): No such target');
    expect(unknown.stderr).toContain('the current rules have no target "queue:billing-service"');
    // a message named by id that is not there is a failure, as `hl7 show` of it is; an empty time range is an answer
    const [missing, missingJson, empty] = await Promise.all([
      ficus(['hl7', 'replay', '--message', '999999', '--reason', 'x']),
      ficus(['hl7', 'replay', '--message', String(ids['CLI-1']), '--type', 'ORU', '--reason', 'x', '--json']),
      ficus(['hl7', 'replay', '--from', '2000-01-01T00:00:00Z', '--to', '2000-01-02T00:00:00Z', '--reason', 'x']),
    ]);
    expect([missing.code, missingJson.code, (await ficus(['hl7', 'show', '999999'])).code]).toEqual([1, 1, 1]);
    expect(missing.stderr).toContain('no stored message 999999: nothing replayed');
    expect(missingJson.stdout).toBe('');
    expect(JSON.parse(missingJson.stderr)).toMatchObject({ title: `no stored message ${ids['CLI-1']} of that --type/--trigger: nothing replayed`, messages: 0 });
    expect([empty.code, empty.stdout.trim()]).toEqual([0, 'no stored message in that time range matches: nothing replayed']);
  });
});

describe('ficus rules flip on an HL7 rule', () => {
  it('flips "results" to dual: later results go to results-service\'s queue too', async () => {
    const flip = await ficus(['rules', 'flip', 'results', '--mode', 'dual', '--reason', 'results-service takes results beside legacy']);
    expect(flip.code, flip.stderr).toBe(0);
    expect(flip.stdout).toMatch(/^version \d+: results: legacy → dual \(results-service\) \(from version \d+\)$/m);
    let n = 0;
    const routed = await until(async () => {
      const id = `CLI-ORU-${++n}`;
      const client = await MllpTestClient.open(a.adapter.port);
      await client.send(syntheticMessage({ controlId: id, mrn: 'P9', type: 'ORU', trigger: 'R01' }));
      client.close();
      const m = (await admin.get<{ messages: { deliveries: { target: string }[] }[] }>(`/api/hl7/messages?controlId=${id}`)).body.messages[0];
      return m?.deliveries.some((d) => d.target === 'queue:results-service') ? id : undefined;
    }, 'a result routed to results-service');
    const byId = await ficus(['hl7', 'messages', '--control-id', routed]);
    expect(byId.stdout).toMatch(new RegExp(`${routed}\\s+GENHOSP\\s+results\\s+dual\\s+AA\\s+legacy:legacy-hl7 \\w+; queue:results-service \\w+$`, 'm'));
    const bad = await ficus(['rules', 'flip', 'results', '--mode', 'canary', '--percent', '5', '--reason', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('refused (422)');
  });
});

describe('ficus queues: the services\' dead letters', () => {
  it('lists, replays and refuses a second replay; the CDC side unavailable is shown as such, exit 4; audited', async () => {
    // patient-service gave up on the backfilled CLI-1 (a dead letter as its consumer writes one)
    const lane = partitionOf('P1', 8);
    const queueName = `hl7.patient-service.p${lane}`;
    const connection = { url: inject('redisUrl') };
    const queue = new Queue(queueName, { connection, prefix: a.queuePrefix });
    const dead = new Queue(`${queueName}.dead`, { connection, prefix: a.queuePrefix });
    try {
      const [job] = (await queue.getJobs(['waiting'])).filter((j) => (j.data as { controlId: string }).controlId === 'CLI-1');
      await job!.remove();
      const letter = { queue: queueName, jobId: job!.id, name: job!.name, data: job!.data, error: 'HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN', attempts: 1, failedAt: new Date().toISOString() };
      await dead.add(job!.name, letter, { jobId: `dead-${job!.id}` });

      // the CDC deployable is not running: its queues are shown unavailable, exit 4, not left out
      const [list, listJson] = await Promise.all([ficus(['queues', 'dead-letters']), ficus(['queues', 'dead-letters', '--json'])]);
      expect(list.code, list.stderr).toBe(4);
      expect(list.stderr).toContain('cdc: refused (503): The CDC reader is unavailable');
      expect(list.stdout).toMatch(/^hl7\.patient-service\.p\*\s+1$/m);
      expect(list.stdout).toMatch(/^cdc\.\*\s+unavailable \(The CDC reader is unavailable\)$/m);
      expect(listJson.code).toBe(4);
      expect(parse<{ unavailable: unknown[] }>(listJson).unavailable).toEqual([expect.objectContaining({ channel: 'cdc', queues: 'cdc.*', status: 503, title: 'The CDC reader is unavailable' })]);
      expect(JSON.parse(listJson.stderr)).toMatchObject({ status: 503, channel: 'cdc', title: 'cdc: The CDC reader is unavailable' });
      expect(list.stdout).toMatch(new RegExp(`^${queueName.replaceAll('.', '\\.')}\\s+dead-${job!.id}\\s+\\S+\\s+1\\s+HL7 204 at PID.*\\s+messageId=${ids['CLI-1']} controlId=CLI-1 sendingFacility=GENHOSP`, 'm'));
      const cdcOnly = await ficus(['queues', 'dead-letters', '--channel', 'cdc']);
      expect(cdcOnly.code).toBe(1);

      const replay = await ficus(['queues', 'replay', queueName, `dead-${job!.id}`, '--reason', 'patient registered since']);
      expect(replay.code, replay.stderr).toBe(0);
      expect(replay.stdout).toMatch(new RegExp(`^replayed ${queueName.replaceAll('.', '\\.')} dead-${job!.id} as job ${job!.id}-replayed-\\d+: messageId=${ids['CLI-1']} controlId=CLI-1`));
      const back = (await queue.getJobs(['waiting'])).filter((j) => (j.data as { controlId: string }).controlId === 'CLI-1');
      expect(back.map((j) => j.id)).toEqual([expect.stringMatching(new RegExp(`^${job!.id}-replayed-\\d+$`))]);
      expect(await dead.getWaitingCount()).toBe(0);

      const again = await ficus(['queues', 'replay', queueName, `dead-${job!.id}`, '--reason', 'twice']);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('refused (404): No such dead letter');
      expect((await ficus(['queues', 'discard', queueName, 'dead-1'])).code).toBe(2);

      // two more letters (the replayed job and another, as if refused again): replayed together
      const [replayed] = await queue.getJobs(['waiting']).then((js) => js.filter((j) => j.id!.startsWith(`${job!.id}-replayed-`)));
      await replayed!.remove();
      for (const [i, j] of [replayed!, job!].entries()) {
        await dead.add(j.name, { ...letter, jobId: `${j.id}-again-${i}`, failedAt: new Date(Date.now() + i).toISOString() }, { jobId: `dead-again-${i}` });
      }
      const all = await ficus(['queues', 'replay-all', 'hl7.patient-service', '--reason', 'service fixed']);
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout.trim()).toBe('replayed 2 dead letters of hl7.patient-service');
      expect((await queue.getJobs(['waiting'])).map((j) => j.id).filter((id) => id!.includes('-again-'))).toEqual([expect.stringMatching(/-again-1-replayed-/), expect.stringMatching(/-again-0-replayed-/)]);
      const unknownFamily = await ficus(['queues', 'replay-all', 'hl7.billing-service', '--reason', 'x']);
      expect(unknownFamily.code).toBe(1);
      expect(unknownFamily.stderr).toContain('refused (404): No such queue family');
      const audit = await ficus(['audit', '--action', 'hl7.dead-letter.replay', '--json']);
      expect(parse<{ entries: { actor: string; target: string; reason: string; outcome: string }[] }>(audit).entries.map((e) => [e.actor, e.outcome, e.reason])).toEqual([
        ['token:first-admin', 'refused', 'twice'],
        ['token:first-admin', 'ok', 'patient registered since'],
      ]);
    } finally {
      await queue.close();
      await dead.close();
    }
  });
});

describe('ficus hl7 show of a message without a sending facility', () => {
  it('names the sender without a dangling "@"', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    try {
      expect((await client.send(syntheticMessage({ controlId: 'CLI-NOFAC', mrn: 'P1', facility: '' }))).get('MSA-1')).toBe('AA');
    } finally {
      client.close();
    }
    const listed = await admin.get<{ messages: { id: number }[] }>('/api/hl7/messages?control-id=CLI-NOFAC');
    const id = listed.body.messages[0]?.id ?? (await admin.get<{ messages: { id: number; controlId: string }[] }>('/api/hl7/messages')).body.messages.find((m) => m.controlId === 'CLI-NOFAC')!.id;
    const shown = await ficus(['hl7', 'show', String(id)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^sender:\s+REGSYS \(no facility: MSH-4 empty\)$/m);
  });
});

describe('ficus hl7 of a message the emergency override sent to legacy', () => {
  it('says its mode is legacy (emergency), in the listing and in show', async () => {
    const pinned = async () => (await readyz(a.apiUrl)).body.emergency?.override?.pinned;
    writeFileSync(emergencyFile, 'rules: [adt]\nreason: cli test\n');
    try {
      await until(async () => ((p) => (p?.includes('adt') ? true : undefined))(await pinned()), 'the override in force', 5_000);
      const client = await MllpTestClient.open(a.adapter.port);
      try {
        expect((await client.send(syntheticMessage({ controlId: 'CLI-EMERGENCY', mrn: 'P4', trigger: 'A01' }))).get('MSA-1')).toBe('AA');
      } finally {
        client.close();
      }
    } finally {
      // the later tests route by the rules alone
      unlinkSync(emergencyFile);
      await until(async () => ((await pinned()) === undefined ? true : undefined), 'the override lifted', 5_000);
    }
    const stored = await until(async () => {
      const r = await admin.get<{ messages: { id: number; emergency: boolean; deliveries: { status: string }[] }[] }>('/api/hl7/messages?controlId=CLI-EMERGENCY');
      const m = r.body.messages[0];
      return m?.deliveries.every((d) => d.status === 'delivered') ? m : undefined;
    }, 'CLI-EMERGENCY delivered');
    expect(stored.emergency).toBe(true);
    const [listed, shown] = await Promise.all([ficus(['hl7', 'messages', '--control-id', 'CLI-EMERGENCY']), ficus(['hl7', 'show', String(stored.id)])]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/CLI-EMERGENCY\s+GENHOSP\s+adt\s+legacy \(emergency\)\s+AA\s+legacy:legacy-hl7 delivered$/m);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^rule:\s+adt \(legacy, emergency\)$/m);
  });
});

describe('ficus hl7 with the adapter away', () => {
  it('says the adapter is unavailable, with exit 1', async () => {
    await a.close();
    adapterClosed = true;
    const r = await ficus(['hl7', 'messages']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused (503): The HL7 adapter is unavailable');
    // no run ever printed the admin token
    for (const run of runs) expect(`${run.stdout}${run.stderr}`).not.toContain('ficus_test-admin-token');
  });
});
