/**
 * A message that arrives before what it names: a result whose patient's registration is still
 * on its way to the services (in patient-service's queue, or in the CDC from the legacy
 * database when the registration went to legacy). The services wait for it
 * (SERVICE_HL7_WAIT_FOR_KEYS_MS) instead of dead-lettering the result at once, holding only
 * that patient's partition; a patient that never comes makes a dead letter when the wait is over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '@ficus/contracts';
import { ask, deadLetters, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { until } from '../../test-support/until.js';

const WAIT_MS = 6_000;
let scene: ServiceScene;

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_early', redisDb: 6, patients: 20, seed: 6_060, waitForKeysMs: WAIT_MS });
  await scene.cdc.snapshot();
  await scene.drain();
});
afterAll(async () => {
  await scene?.close();
});

const now = () => hl7Time(new Date(Date.now() + 60_000));
const oru = (mrn: string, orderNo: string, value: string, status: string) =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: now() }),
    `PID|1||${mrn}^^^GENHOSP^MR`,
    segment('OBR', { 1: '1', 3: orderNo, 7: '20240701080000' }),
    segment('OBX', { 1: '1', 2: 'NM', 3: '2345-7^GLUCOSE^LN', 5: value, 6: 'mg/dL', 11: status }),
  );
const resultsOf = async (mrn: string) => {
  const r = await ask(scene.results.url, `/api/results?mrn=${mrn}`);
  return r.status === 200 ? (JSON.parse(r.body) as { items: { orderNumber: string; value: string; status: string }[] }).items : [];
};
const metrics = async () => (await ask(scene.results.url, '/metrics')).body;
const counted = (text: string, outcome: string) => Number(new RegExp(`ficus_service_hl7_messages_total\\{type="ORU\\^R01",outcome="${outcome}",service="results-service"\\} (\\d+)`).exec(text)?.[1] ?? 0);

describe('a result before its patient', () => {
  it('waits for a registration still in patient-service\'s queue, and the patient\'s next result stays behind it', async () => {
    const mrn = '7610001';
    const before = counted(await metrics(), 'waiting');
    await scene.sendHl7('results-service', oru(mrn, 'L7610001', '101', 'P'));
    await scene.sendHl7('results-service', oru(mrn, 'L7610001', '102', 'F'));
    await sleep(600);
    expect(await resultsOf(mrn)).toEqual([]);
    await scene.sendHl7(
      'patient-service',
      hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: now() }), segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'ZZEARLY^QQGIVEN', 7: '19700101', 8: 'F' }), segment('PV1', { 1: '1', 2: 'O' })),
    );
    await until(async () => (await resultsOf(mrn)).some((r) => r.status === 'F'), 'the results');
    await scene.drain();
    // the preliminary first, then the final replacing it: one result, the final one
    expect((await resultsOf(mrn)).map((r) => [r.orderNumber, r.value, r.status])).toEqual([['L7610001', '102', 'F']]);
    expect(await deadLetters(scene.redis)).toEqual([]);
    expect(counted(await metrics(), 'waiting')).toBe(before + 1);
  });

  it('waits for a registration the CDC brings from the legacy database', async () => {
    const created = await ask(scene.legacy.base, '/api/patients', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lastName: 'ZZVIACDC', firstName: 'QQGIVEN', dateOfBirth: '1990-03-04', sex: 'M' }),
    });
    expect(created.status).toBe(201);
    const mrn = (JSON.parse(created.body) as { mrn: string }).mrn;
    await scene.sendHl7('results-service', oru(mrn, `L${mrn}`, '55', 'F'));
    await sleep(600);
    expect(await resultsOf(mrn)).toEqual([]);
    await scene.cdc.sync(['patients']);
    await until(async () => (await resultsOf(mrn)).length === 1, 'the result');
    expect(await deadLetters(scene.redis)).toEqual([]);
  });

  it('makes a dead letter of a result whose patient never comes, after the wait; other partitions go on meanwhile', async () => {
    const never = '7619999';
    const partition = (mrn: string) => partitionOf(mrn, 8);
    const { rows } = await scene.legacy.pool.query<{ mrn: string }>('SELECT PAT_MRN AS mrn FROM PATIENT_MASTER ORDER BY PAT_MRN');
    const other = rows.map((r) => r.mrn).find((m) => partition(m) !== partition(never))!;
    const refusedBefore = counted(await metrics(), 'refused');
    const sent = Date.now();
    await scene.sendHl7('results-service', oru(never, 'L7619999', '1', 'F'));
    await scene.sendHl7('results-service', oru(other, `L${other}X`, '2', 'F'));
    await until(async () => (await resultsOf(other)).some((r) => r.orderNumber === `L${other}X`), "the other patient's result");
    // taken while the first one is still held
    expect(await deadLetters(scene.redis)).toEqual([]);
    await until(async () => (await deadLetters(scene.redis)).length === 1, 'the dead letter');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(WAIT_MS);
    const [dead] = await deadLetters(scene.redis);
    expect(dead!.error).toBe('HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN');
    expect(counted(await metrics(), 'refused')).toBe(refusedBefore + 1);
  });
});
