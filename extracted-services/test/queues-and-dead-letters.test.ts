/**
 * The services' queues: HL7 messages and CDC batches delivered again change nothing; a message
 * a service cannot apply becomes a dead letter with its reason (HL7 error code and field, never
 * a value), and its partition goes on; the metrics count all of it; and the logs carry no
 * patient data, whatever happened.
 */
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7QueueName, partitionQueueName, type ChangeBatch } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import { ask, deadLetters, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
const logs: string[] = [];
let seeded: { mrn: string; last: string; first: string; dob: string }[];

beforeAll(async () => {
  const log = pino({ level: 'debug', base: { service: 'test' } }, { write: (line: string) => void logs.push(line) });
  scene = await startServiceScene({ prefix: 'svc_queues', redisDb: 14, patients: 30, seed: 1_401, log });
  await scene.cdc.snapshot();
  await scene.drain();
  const { rows } = await scene.legacy.pool.query<{ mrn: string; last: string; first: string; dob: string }>(
    `SELECT PAT_MRN AS mrn, PAT_LAST_NM AS last, PAT_FIRST_NM AS first, to_char(PAT_DOB, 'YYYYMMDD') AS dob FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 5`,
  );
  seeded = rows;
});
afterAll(async () => {
  await scene?.close();
});

const now = () => hl7Time(new Date(Date.now() + 60_000));
const pid = (mrn: string, extra: Record<number, string> = {}) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'ZZTESTNAME^QQGIVEN', 7: '19610203', 8: 'M', ...extra });
const count = async (sql: string, params: unknown[] = [], pool = scene.patients.pool) => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;
const metricsText = async (url: string) => (await ask(url, '/metrics')).body;

describe('redelivery changes nothing', () => {
  it('the same HL7 message twice (a resend, a replay) is applied once', async () => {
    const a01 = hl7(msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: now() }), pid('7400001'), segment('PV1', { 1: '1', 2: 'I', 3: 'MED1', 19: 'V7400001', 44: '202407011000' }));
    await scene.sendHl7('patient-service', a01);
    await scene.sendHl7('patient-service', a01);
    const oru = hl7(
      msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: now() }),
      'PID|1||7400001',
      segment('OBR', { 1: '1', 3: 'L74000001', 7: '20240701080000' }),
      segment('OBX', { 1: '1', 2: 'NM', 3: '2345-7^GLUCOSE^LN', 5: '101', 6: 'mg/dL', 7: '70-99', 8: 'H', 11: 'F' }),
    );
    await scene.drain();
    await scene.sendHl7('results-service', oru);
    await scene.sendHl7('results-service', oru);
    await scene.drain();
    expect(await count('encounter WHERE mrn = $1', ['7400001'])).toBe(1);
    expect(await count('lab_result WHERE mrn = $1', ['7400001'], scene.results.pool)).toBe(1);
    expect(await metricsText(scene.patients.url)).toMatch(/ficus_service_hl7_messages_total\{type="ADT\^A01",outcome="duplicate",service="patient-service"\} 1/);
    expect(await metricsText(scene.results.url)).toMatch(/ficus_service_hl7_messages_total\{type="ORU\^R01",outcome="duplicate",service="results-service"\} 1/);
  });

  it('a CDC batch delivered again (the same positions) changes nothing', async () => {
    const mrn = seeded[0]!.mrn;
    const p = JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body) as Record<string, unknown>;
    const row = { mrn, lastName: 'ONCE', firstName: p.firstName, middleName: p.middleName, dateOfBirth: p.dateOfBirth, sex: p.sex, addressLine1: null, city: null, state: null, zip: null, phone: null, maritalStatus: null, active: 'Y', created: p.created, lastUpdated: '2024-07-05T10:00:00', lastUpdatedBy: 'CLERK' };
    const event = scene.cdc.event('patients', 'update', { mrn }, null, row);
    await scene.cdc.publish([event]);
    await scene.drain();
    const first = await ask(scene.patients.url, `/api/patients/${mrn}`);
    // the same change again, and again in a batch with a later change of another row
    await scene.cdc.publish([event]);
    await scene.cdc.publish([event, scene.cdc.event('patients', 'update', { mrn: seeded[1]!.mrn }, null, { ...row, mrn: seeded[1]!.mrn, lastName: 'OTHER' })]);
    await scene.drain();
    expect(await ask(scene.patients.url, `/api/patients/${mrn}`)).toEqual(first);
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${seeded[1]!.mrn}`)).body)).toMatchObject({ lastName: 'OTHER' });
    const metrics = await metricsText(scene.patients.url);
    expect(metrics).toMatch(/ficus_service_cdc_changes_total\{topic="patients",outcome="skipped",service="patient-service"\} 2/);
    // from the source commit to the apply, for every change applied
    expect(metrics).toMatch(/ficus_service_cdc_lag_seconds_count\{[^}]*topic="patients"[^}]*\} [1-9]/);
  });
});

describe('dead letters', () => {
  it('a message that cannot be applied is a dead letter with its reason, and its partition goes on', async () => {
    const unknown = '7499999';
    const messages = {
      unknownPatient: hl7(msh('ADT^A08^ADT_A01', uniqueControlId('A08'), { time: now() }), pid(unknown)),
      unsupported: hl7(msh('ADT^A05^ADT_A05', uniqueControlId('A05'), { time: now() }), pid(unknown)),
      badMrn: hl7(msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: now() }), pid('12AB'), segment('PV1', { 1: '1', 2: 'I' })),
      noDisposition: hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03'), { time: now() }), pid(seeded[2]!.mrn), segment('PV1', { 1: '1', 19: 'NOSUCHVISIT' })),
      badDate: hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: now() }), pid('7400002', { 7: '19612303' })),
    };
    for (const m of Object.values(messages)) await scene.sendHl7('patient-service', m);
    // then a good message for the same patient key as the first: it is applied
    await scene.sendHl7('patient-service', hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: now() }), pid(unknown)));
    await scene.sendHl7('results-service', hl7(msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { time: now() }), `PID|1||${seeded[3]!.mrn}`, 'OBR|1||L1', segment('OBX', { 1: '1', 2: 'NM', 3: '1-8^X^LN', 5: '1', 11: 'Q' })));
    await scene.sendHl7('results-service', hl7(msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { time: now() }), 'PID|1||7488888', 'OBR|1||L2', segment('OBX', { 1: '1', 2: 'NM', 3: '1-8^X^LN', 5: '1', 11: 'F' })));
    // not HL7 at all, and not an HL7 job
    const q = new Queue(hl7QueueName('patient-service', 0), { connection: scene.redis });
    // a control id an engine built from an MRN: the logs name the job by the adapter's message id instead
    await q.add('x', { messageId: 1, controlId: 'MRN7400001-GARBAGE', sendingFacility: 'X', messageType: 'ADT', triggerEvent: 'A01', raw: 'this is not HL7', replay: false });
    await q.add('x', { hello: 'world' });
    await q.close();
    await scene.drain();

    const dead = await deadLetters(scene.redis);
    const reasons = dead.map((d) => d.error).sort();
    // sorted: the undecodable job, the refusals by HL7 error code, the job that is no HL7 job
    expect(reasons).toEqual([
      expect.stringMatching(/^HL7 100: /),
      expect.stringMatching(/^HL7 102 at PID\^1\^3\^1\^1: PID-3 is not an MRN/),
      expect.stringMatching(/^HL7 102 at PID\^1\^7: PID-7 is not a valid HL7 date/),
      expect.stringMatching(/^HL7 103 at OBX\^1\^11: OBX-11 is not a result status/),
      'HL7 201: ADT^A05 is not applied by patient-service',
      'HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN',
      'HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN',
      expect.stringMatching(/^HL7 204 at PV1\^1\^19\^1\^1: PV1-19: the patient has no stay/),
      expect.stringMatching(/^not an HL7 job: /),
    ]);
    expect(reasons).toHaveLength(9);
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${unknown}`)).body)).toMatchObject({ mrn: unknown, lastName: 'ZZTESTNAME' });
    const metrics = await metricsText(scene.patients.url);
    expect(metrics).toMatch(/ficus_service_dead_letters\{channel="hl7",queue="hl7.patient-service",service="patient-service"\} 7/);
    expect(metrics).toMatch(/ficus_service_hl7_messages_total\{type="ADT\^A08",outcome="refused",service="patient-service"\} 1/);
  });

  it('a change batch of an unknown envelope version is a dead letter; the topic goes on', async () => {
    const mrn = seeded[4]!.mrn;
    const name = partitionQueueName(cdcQueuePrefix('patients'), 0);
    const q = new Queue<ChangeBatch | Record<string, unknown>>(name, { connection: scene.redis });
    await q.add('changes', { schemaVersion: 2, events: [] });
    await q.close();
    await scene.drain();
    expect((await deadLetters(scene.redis)).filter((d) => d.queue === name).map((d) => d.error)).toEqual([expect.stringMatching(/not a change batch of version 1: schemaVersion 2/)]);
    const p = JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body) as Record<string, unknown>;
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, { ...p, addressLine1: null, city: null, state: null, zip: null, active: 'Y', lastName: 'AFTER', lastUpdatedBy: 'X' })]);
    await scene.drain();
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: 'AFTER' });
  });
});

describe('results-service without patient-service', () => {
  it('answers 503 LAB-503 (the gateway answers from legacy) for a patient it cannot check, and serves those it has', async () => {
    const withResults = (await scene.results.pool.query<{ mrn: string }>('SELECT mrn FROM lab_result LIMIT 1')).rows[0]!.mrn;
    await scene.patients.close();
    const unknown = await ask(scene.results.url, '/api/results?mrn=7444444');
    expect(unknown.status).toBe(503);
    expect(JSON.parse(unknown.body)).toEqual({ errorCode: 'LAB-503', errorMessage: 'Patient information is unavailable' });
    expect((await ask(scene.results.url, `/api/results?mrn=${withResults}`)).status).toBe(200);
    await scene.restart('patients', 'legacy');
    expect((await ask(scene.results.url, '/api/results?mrn=7444444')).status).toBe(404);
  });
});

describe('logs', () => {
  it('carry ids, types, counts and reasons, never names, MRNs or birth dates', () => {
    expect(logs.length).toBeGreaterThan(10);
    const text = logs.join('\n');
    for (const phi of ['ZZTESTNAME', 'QQGIVEN', '7400001', '7499999', '19610203', ...seeded.flatMap((s) => [s.mrn, s.last, s.dob])]) {
      expect(text, phi).not.toContain(phi);
    }
    expect(text).toContain('HL7 message refused: dead letter');
    expect(logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'HL7 message refused: dead letter' && l.messageId === 1)).toMatchObject({ reason: expect.stringMatching(/^HL7 100: /) });
    expect(text).not.toContain('"controlId"');
  });
});
