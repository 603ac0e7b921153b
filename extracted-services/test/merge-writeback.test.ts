/**
 * The probe of 2026-12-07, end to end: the HL7 rules in mode `new` (the real HL7 adapter; the
 * legacy gets no message), an A01 for each of two patients, an ORU (lactate 4.4 H) for the
 * second, then an A40 merging the second into the first. Before the fix the sender got its ACKs
 * and patient-service moved the stay, but the merge's write-back was a dead letter
 * (`null value in column "result_cnt"`): the legacy never recorded the merge, and the lactate
 * stayed on the merged-away patient in the legacy and in results-service, pointing at a stay
 * that now belonged to the survivor.
 *
 * Now the legacy records the merge as its own A40 does (the stay and the result moved, the
 * counts kept), and the capture brings the result's move to results-service, which holds the
 * results' record (lab-results in `new`): the lactate is the survivor's on both sides, alike.
 * First with patients-write in `legacy` (patient-service not the system of record), then after
 * it is `new` too.
 *
 * The real parts: the CDC deployable (reader and legacy writer, the shipped mapping) on the
 * legacy database, patient-service and results-service with their outbox relays, the HL7
 * adapter, the legacy's HTTP API; a Redis of this file's own (the services consume the shipped
 * topic names).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { buildLegacyHis } from '@ficus/legacy-his';
import type { RunningPatientService } from '@ficus/patient-service';
import type { RunningResultsService } from '@ficus/results-service';
import type { SystemOfRecord } from '@ficus/service-kit';
import { ignoreSpec } from '../../cli/src/reconcile/canonical.js';
import { ContractClient } from '../../cli/src/reconcile/contract-client.js';
import { reconcilePatients, reconcileResults, type ReconcileReport } from '../../cli/src/reconcile/run.js';
import { startScene, until, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from '../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { MllpClient } from '../../examples/legacy-his/test/support/mllp-client.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { startServicePair } from './support/service-pair.js';
import { deadLetters, hl7Time } from '../../test-support/service-scene.js';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';

const log = createLogger('merge-writeback-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let ownRedis: PrivateRedis;
let redisDir: string;
let redis: Redis;
let s: Scene;
let cdc: CdcProcess;
let legacyApp: FastifyInstance;
let legacyBase: string;
let dbs: TestDatabase[] = [];
let patients: RunningPatientService;
let results: RunningResultsService;
let adapter: AdapterUnderTest;

async function startServices(patientRecord: SystemOfRecord): Promise<void> {
  const common = { DATABASE_URL: inject('databaseUrl'), REDIS_URL: ownRedis.url, SERVICE_SHUTDOWN_TIMEOUT_MS: '3000', SERVICE_HL7_WAIT_FOR_KEYS_MS: '30000', HL7_MRN_AUTHORITIES: 'GENHOSP' };
  // lab-results in `new`: results-service holds the results' record
  ({ patients, results } = await startServicePair({ common, databases: { patients: dbs[0]!, results: dbs[1]! }, systemOfRecord: { patients: patientRecord, results: 'service' }, log }));
}
async function stopServices(): Promise<void> {
  await results?.close();
  await patients?.close();
}

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-merge-writeback-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  redis = new Redis(ownRedis.url, { maxRetriesPerRequest: null });
  s = await startScene({ name: 'merge_wb', seedPatients: 20, mapping: (topics) => topics.map((t) => ({ ...t, topic: t.topic.replace(/-[0-9a-f]{6}$/, '') })) });
  cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'patient-service,results-service', CDC_WRITEBACK_FK_WAIT_MS: '15000', LOG_LEVEL: 'warn' });
  legacyApp = await buildLegacyHis({ pool: s.legacyPool });
  await legacyApp.listen({ port: 0, host: '127.0.0.1' });
  legacyBase = `http://127.0.0.1:${(legacyApp.server.address() as AddressInfo).port}`;
  dbs = [await createTestDatabase(inject('databaseUrl'), 'merge_wb_patients'), await createTestDatabase(inject('databaseUrl'), 'merge_wb_results')];
  await startServices('legacy');
  // every HL7 rule in `new`: the messages go to the services' queues only, never to the legacy's inbound
  adapter = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'new'), env: { REDIS_URL: ownRedis.url, HL7_PARTITIONS: '8', HL7_QUEUE_PREFIX: 'bull', HL7_MRN_AUTHORITIES: 'GENHOSP' } });
  // the snapshot in both services
  const seededWithResults = (await s.legacyPool.query<{ pat_mrn: string }>('SELECT pat_mrn FROM lab_result ORDER BY result_id DESC LIMIT 1')).rows[0]!.pat_mrn;
  await until(async () => ((await get(patients.url, '/api/patients/100020')).status === 200 ? true : undefined), 'the snapshot in patient-service');
  await until(async () => ((await get(results.url, `/api/results?mrn=${seededWithResults}`)).status === 200 ? true : undefined), 'the snapshot in results-service');
});

afterAll(async () => {
  await adapter?.close();
  await stopServices();
  await legacyApp?.close();
  await cdc?.stop();
  await Promise.all(dbs.map((d) => d.drop()));
  await s?.close();
  redis?.disconnect();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

async function get(base: string, p: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(base + p);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}
type Result = { resultId: string | number; mrn: string; admissionId: number | null; orderNumber: string; value: string; abnormalFlag: string | null } & Record<string, unknown>;
const resultsOf = async (base: string, mrn: string) => ((await get(base, `/api/results?mrn=${mrn}`)).body as { items?: Result[] }).items ?? [];
const lactates = async (base: string, mrn: string) => (await resultsOf(base, mrn)).filter((r) => r.orderNumber === 'PL7001' || r.orderNumber === 'FL7001');
const legacyMerges = async (merged: string) =>
  (await s.legacyPool.query<{ survivor_mrn: string; adm_cnt: number; result_cnt: number }>('SELECT survivor_mrn, adm_cnt, result_cnt FROM patient_merge WHERE merged_mrn = $1', [merged])).rows;
const legacyLactateOwners = async () => (await s.legacyPool.query<{ pat_mrn: string }>("SELECT pat_mrn FROM lab_result WHERE order_no IN ('PL7001', 'FL7001') ORDER BY pat_mrn")).rows.map((r) => r.pat_mrn);
/** the dead letters of every queue (HL7, CDC, write-back), reasons only */
const allDeadLetters = async () => (await deadLetters(redis)).map((d) => `${d.queue}: ${d.error}`);

/** the probe's messages (/tmp/hl7probe/m: n-a01, n-a01b, n-oru4, n-a40), for two MRNs of its own, sent at `at` */
function probeMessages(survivor: string, merged: string, at: Date) {
  const t = (minutes: number) => hl7Time(new Date(at.getTime() + minutes * 60_000));
  const id = (n: string) => `NC-${survivor}-${n}`;
  return {
    a01Survivor: [
      `MSH|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|${t(0)}||ADT^A01^ADT_A01|${id('1')}|P|2.3.1|||AL|AL`,
      `EVN|A01|${t(0)}`,
      `PID|1||INS-77^^^AETNA^HI~${survivor}^^^GENHOSP^MR~X9^^^OTHERHOSP^MR||D\\S\\ANGELO^LUCA^M~DANGELO^LUCA^^^^^A||19881122|M|||5 HARBOR WAY\\F\\FLAT 2^^SALEM^MA^01970~^^^^^^M||^PRN^PH^^1^978^5550123~^NET^Internet^luca@example.org|||M`,
      `PV1|1|I|CARD^07^1B|U|||D4004^PATEL^RAJ||||||||||||V${survivor}|||||||||||||||||||||||||${t(-5)}`,
      'ZPI|1|Something|custom',
    ].join('\r'),
    a01Merged: [
      `MSH|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|${t(1)}||ADT^A01^ADT_A01|${id('3')}|P|2.5`,
      `EVN|A01|${t(1)}`,
      `PID|1||${merged}^^^GENHOSP^MR||TWIN^TOM||19991010|M|||1 TWIN LN^^SALEM^MA^01970`,
      `PV1|1|E|EMER^^^|E|||D4004^PATEL^RAJ||||||||||||V${merged}|||||||||||||||||||||||||${t(0)}`,
    ].join('\r'),
    oru: [
      `MSH|^~\\&|NEWLAB|NORTHLAB|LEGACYHIS|GENHOSP|${t(2)}||ORU^R01^ORU_R01|NL-${merged}-4|P|2.5.1`,
      `PID|1||${merged}^^^GENHOSP^MR||TWIN^TOM`,
      `PV1|1|E|EMER||||||||||||||||V${merged}`,
      `OBR|1|PL7001|FL7001|LAC^LACTATE^L|||${t(1)}|||||||||||||||${t(2)}|||F`,
      'OBX|1|NM|LAC^Lactate^L||4.4|mmol/L|0.5-2.2|H|||F',
    ].join('\r'),
    a40: [
      `MSH|^~\\&|NEWREG|NORTHCAMPUS|LEGACYHIS|GENHOSP|${t(3)}||ADT^A40^ADT_A39|${id('5')}|P|2.5|||AL|AL`,
      `EVN|A40|${t(3)}`,
      `PID|1||${survivor}^^^GENHOSP^MR||D\\S\\ANGELO^LUCA`,
      `MRG|${merged}^^^GENHOSP^MR`,
    ].join('\r'),
  };
}

async function send(message: string): Promise<void> {
  const client = await MllpClient.connect(adapter.adapter.port);
  try {
    const ack = await client.request(message);
    expect(['CA', 'AA'], ack.message.text.replace(/\r/g, '\n')).toContain(ack.code);
  } finally {
    client.close();
  }
}

/** the probe's steps; answers once the merge's write-back has been applied or refused */
async function probe(survivor: string, merged: string, at: Date): Promise<void> {
  const m = probeMessages(survivor, merged, at);
  await send(m.a01Survivor);
  await send(m.a01Merged);
  await until(async () => ((await get(legacyBase, `/api/encounters?mrn=${merged}`)).status === 200 ? true : undefined), 'both admissions written back');
  await send(m.oru);
  // as in the probe, the lactate is in both systems, on the second patient, before the merge
  await until(async () => ((await lactates(results.url, merged)).length === 1 && (await lactates(legacyBase, merged)).length === 1 ? true : undefined), 'the lactate in both systems');
  await send(m.a40);
  await until(async () => ((await legacyMerges(merged)).length > 0 || (await allDeadLetters()).length > 0 ? true : undefined), 'the merge written back, or a dead letter');
}

/** what both systems answer after the merge: the lactate is the survivor's, on both sides alike */
async function expectMergedEverywhere(survivor: string, merged: string): Promise<void> {
  expect(await allDeadLetters()).toEqual([]);
  expect(await legacyMerges(merged)).toEqual([{ survivor_mrn: survivor, adm_cnt: 1, result_cnt: 1 }]);
  expect(await legacyLactateOwners()).toContain(survivor);
  expect(await legacyLactateOwners()).not.toContain(merged);
  const stay = (await s.legacyPool.query<{ adm_id: number; pat_mrn: string }>('SELECT adm_id, pat_mrn FROM admission WHERE visit_no = $1', [`V${merged}`])).rows[0]!;
  expect(stay.pat_mrn).toBe(survivor);
  const moved = await until(async () => {
    const got = await lactates(results.url, survivor);
    return got.length === 1 ? got[0] : undefined;
  }, 'the lactate under the survivor in results-service');
  expect(moved).toMatchObject({ mrn: survivor, admissionId: stay.adm_id, value: '4.4', abnormalFlag: 'H' });
  expect(await lactates(results.url, merged)).toEqual([]);
  // both systems answer the same for both patients (the legacy's answer is settled: the service's may still be on its way)
  for (const mrn of [survivor, merged]) {
    const legacy = (await get(legacyBase, `/api/results?mrn=${mrn}`)).body;
    await expect.poll(async () => (await get(results.url, `/api/results?mrn=${mrn}`)).body, { timeout: 10_000 }).toEqual(legacy);
  }
  expect(((await get(patients.url, `/api/encounters?mrn=${survivor}`)).body as { items: { admissionId: number }[] }).items.map((e) => e.admissionId)).toContain(stay.adm_id);
}

/**
 * `ficus reconcile patients | results --mrn survivor --mrn merged`, as the CLI runs it. Patients
 * and stays without their stamps: a stay written back in the second of its last legacy stamp is
 * stamped again by the legacy's trigger, and patient-service, holding the record, does not take
 * that stamp from the echo (it does for patients only); nothing to do with merges.
 */
async function reconcile(kind: 'patients' | 'results', mrns: string[]): Promise<ReconcileReport> {
  const legacy = new ContractClient('the legacy system', legacyBase, 'set --legacy');
  const service = kind === 'patients' ? new ContractClient('patient-service', patients.url, 'set --service') : new ContractClient('results-service', results.url, 'set --service');
  const o = { legacy, service, mrns, concurrency: 2, sample: 10, ignore: ignoreSpec(kind === 'patients' ? ['lastUpdated'] : []) };
  return kind === 'patients' ? reconcilePatients(o) : reconcileResults(o);
}
const differences = (r: ReconcileReport) => r.entities.flatMap((e) => e.samples.map((x) => [e.entity, x.kind, x.key.mrn, x.fields]));

describe('an A40 in mode new after an ORU for the merged-away patient (the probe of 2026-12-07)', () => {
  it('patients-write in legacy: the legacy records the merge, and the lactate is the survivor\'s in the legacy and in results-service', async () => {
    await probe('7710001', '7710002', new Date(Date.now() - 30 * 60_000));
    await expectMergedEverywhere('7710001', '7710002');
    for (const kind of ['patients', 'results'] as const) expect(differences(await reconcile(kind, ['7710001', '7710002']))).toEqual([]);
  });

  it('reconcile sees the merged-away patient still holding the result on one side only, as one result differing in mrn', async () => {
    const put = (mrn: string) => results.pool.query("UPDATE lab_result SET mrn = $1 WHERE order_number IN ('PL7001', 'FL7001')", [mrn]);
    await put('7710002'); // behind results-service's back: as if the merge had not reached it
    try {
      const r = await reconcile('results', ['7710001', '7710002']);
      expect(r.clean).toBe(false);
      expect(differences(r)).toEqual([['results', 'differs', '7710001', ['mrn']]]);
      expect(r.entities[0]).toMatchObject({ onlyInLegacy: 0, onlyInService: 0, differing: 1 });
    } finally {
      await put('7710001');
    }
  });

  it('patients-write in new as well: the same', async () => {
    await stopServices();
    await startServices('service');
    await probe('7720001', '7720002', new Date(Date.now() - 20 * 60_000));
    await expectMergedEverywhere('7720001', '7720002');
    for (const kind of ['patients', 'results'] as const) expect(differences(await reconcile(kind, ['7720001', '7720002']))).toEqual([]);
  });
});
