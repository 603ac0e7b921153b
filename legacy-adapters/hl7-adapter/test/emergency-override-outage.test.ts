/**
 * Break glass on the HL7 adapter when the rule store is the incident: its PostgreSQL and Redis
 * both stopped, `adt-patient-events` serving patient-service (mode new), and the emergency
 * override file still sends admissions to the legacy inbound (the admin API could not: a flip is
 * a version written to the store). The adapter's own message store stays up (without it nothing
 * is accepted). An admission accepted before the file, still pending towards the service's queue,
 * is not lost or moved: it reaches the queue once Redis is back, as after a flip. Once the store
 * is back, the apply and the removal are in its audit log.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, withDatabase } from '@ficus/contracts';
import { startPostgres, startPrivateRedis, STATE_DIR, type PrivatePostgres, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { adtMovedRules, overrideMetric, readyz, type Ready } from './support/emergency-scene.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let servicesDir: string;
let ruleStore: PrivatePostgres;
let redis: PrivateRedis;
let inbound: TestInbound;
let a: AdapterUnderTest;
let messages: pg.Pool;
let dir: string;
let file: string;

beforeAll(async () => {
  servicesDir = path.join(STATE_DIR, `test-hl7-emergency-outage-${process.pid}`);
  ruleStore = await startPostgres(servicesDir, () => undefined);
  redis = await startPrivateRedis(servicesDir, () => undefined);
  inbound = new TestInbound();
  await inbound.start();
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-hl7-emergency-'));
  file = path.join(dir, 'emergency-legacy.yaml');
  a = await startAdapterUnderTest({
    files: adtMovedRules(inbound.url, 'new'),
    ruleStoreUrl: withDatabase(ruleStore.url, 'ficus_gateway'),
    env: { FICUS_RULES_SOURCE: 'store', FICUS_RULES_CHECK_MS: '300', REDIS_URL: redis.url, FICUS_EMERGENCY_FILE: file },
  });
  messages = new pg.Pool({ connectionString: a.messageDb.url, max: 1 });
}, 120_000);
afterAll(async () => {
  await messages?.end();
  await a?.close();
  await inbound?.stop();
  await redis?.stop().catch(() => undefined);
  await ruleStore?.stop().catch(() => undefined);
  rmSync(servicesDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

async function admit(controlId: string, mrn: string): Promise<void> {
  const client = await MllpTestClient.open(a.adapter.port);
  try {
    expect((await client.send(syntheticMessage({ controlId, mrn, trigger: 'A01' }))).get('MSA-1')).toBe('AA');
  } finally {
    client.close();
  }
}

/** the stored message, read from the message store (the API checks tokens in the rule store, which is down) */
async function stored(controlId: string): Promise<{ mode: string; emergency: boolean; deliveries: string[] }> {
  const { rows } = await messages.query<{ mode: string; emergency: boolean; target: string; status: string }>(
    'SELECT m.mode, m.emergency, d.target, d.status FROM hl7_messages m JOIN hl7_deliveries d ON d.message_id = m.id WHERE m.control_id = $1 ORDER BY d.id',
    [controlId],
  );
  return { mode: rows[0]!.mode, emergency: rows[0]!.emergency, deliveries: rows.map((r) => `${r.target} ${r.status}`) };
}

const untilReady = (what: string, ok: (r: Ready) => boolean) => until(async () => ((r) => (ok(r.body) ? r : undefined))(await readyz(a.apiUrl)), what, 10_000);
const atLegacy = (controlId: string) => inbound.received.some((r) => r.controlId === controlId);

describe('the HL7 emergency override with the rule store down', () => {
  it('PostgreSQL of the rule store and Redis stopped: the file still sends admissions to legacy, and the adapter keeps taking messages', async () => {
    await admit('OUT-1', 'O1');
    await until(async () => ((await stored('OUT-1')).deliveries[0] === 'queue:patient-service delivered' ? true : undefined), 'OUT-1 on the queue');
    await redis.stop();
    await ruleStore.stop();
    await untilReady('the rule store unreachable', (x) => x.rules.detail.store === 'unreachable');

    // accepted in mode new during the outage: pending towards the queue (Redis is away)
    await admit('OUT-2', 'O2');
    expect(await stored('OUT-2')).toEqual({ mode: 'new', emergency: false, deliveries: ['queue:patient-service pending'] });

    writeFileSync(file, 'rules: [adt-patient-events]\nreason: patient-service down, rule store down\nby: j.doe\n');
    const r = await untilReady('the override in force', (x) => x.emergency?.override !== undefined);
    expect(r.code).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect(r.body.emergency?.override?.pinned).toEqual(['adt-patient-events']);
    await admit('OUT-3', 'O3');
    await until(() => (atLegacy('OUT-3') ? true : undefined), 'OUT-3 at the legacy inbound');
    // legacy has it once it answers; the adapter marks the delivery done a moment later
    await until(async () => ((await stored('OUT-3')).deliveries[0]?.endsWith(' delivered') ? true : undefined), 'OUT-3 marked delivered');
    expect(await stored('OUT-3')).toEqual({ mode: 'legacy', emergency: true, deliveries: ['legacy:legacy-hl7 delivered'] });
    expect(await overrideMetric(a.apiUrl, 'adt-patient-events')).toBe(1);
  });

  it('once Redis and the store are back: the admission accepted before the file reaches the queue, not legacy; the apply and the removal are audited', async () => {
    unlinkSync(file);
    await untilReady('the override removed', (x) => x.emergency === undefined);
    await ruleStore.start();
    await redis.start();
    await until(async () => ((await stored('OUT-2')).deliveries[0] === 'queue:patient-service delivered' ? true : undefined), 'OUT-2 on the queue');
    expect(atLegacy('OUT-2')).toBe(false);

    const pool = new pg.Pool({ connectionString: withDatabase(ruleStore.url, 'ficus_gateway'), max: 1 });
    try {
      const audit = new AuditLog(pool);
      const entries = await until(async () => ((e) => (e.length >= 2 ? e : undefined))(await audit.query({ action: 'rules.emergency' })), 'the apply and the removal audited');
      expect(entries.map((e) => [e.actor, e.target, (e.detail as { event: string }).event, (e.detail as { component: string }).component])).toEqual([
        ['emergency-file:j.doe', 'adt-patient-events', 'removed', 'hl7-adapter'],
        ['emergency-file:j.doe', 'adt-patient-events', 'applied', 'hl7-adapter'],
      ]);
    } finally {
      await pool.end();
    }
  });
});
