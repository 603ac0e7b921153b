/**
 * A message the legacy got itself (the HL7 rule in mode `dual`, `legacyToo: true`) is applied by
 * the legacy's own HL7 inbound and, as an early copy of the legacy's, by the service: it is not
 * written back as well, whoever holds the record for the HTTP writes (what a service applies in
 * mode `new` is: hl7-new-writeback.test.ts, on the same scene, support/hl7-writeback.ts).
 *
 * Until 7 December, with adt-patient-events in dual and patients-write in new, patient-service
 * applied such an A01 as its own (a service id, not provisional) and the legacy's stay came
 * through CDC beside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../examples/legacy-his/test/support/mllp-client.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { controlIdOf, hl7WritebackReads, outboxRows, startHl7WritebackScene } from './support/hl7-writeback.js';
import { a01, minutes, oru } from './support/writeback-messages.js';
import type { WritebackScene } from './support/writeback-scene.js';

let wb: WritebackScene;
let scene: ServiceScene;
let seeded: string[];

beforeAll(async () => {
  ({ wb, scene, seeded } = await startHl7WritebackScene({ prefix: 'svc_hl7_dual', redis: 'own' }));
});
afterAll(() => wb?.close());

const { legacyJson, serviceJson, legacyCount, settled, throughAdapter, queuedJob } = hl7WritebackReads(() => scene);

describe('HL7 rule in mode dual: the legacy applies the message itself, nothing is written back', () => {
  beforeAll(async () => {
    // the strongest case: the services hold the record, and would write back whatever they are told to
    await scene.restart('patients', 'service');
    await scene.restart('results', 'service');
  });

  async function toLegacyInbound(message: string): Promise<void> {
    const client = await MllpClient.connect(scene.inbound!.port);
    try {
      expect((await client.request(message)).code).toBe('AA');
    } finally {
      client.close();
    }
  }

  it('an A01 the legacy got too is in the legacy once, and not in the outbox', async () => {
    const mrn = '7400033';
    const message = a01(mrn, 'DUALMODE', 'V7400033', minutes(3));
    await toLegacyInbound(message);
    await scene.sendHl7('patient-service', message, { legacyToo: true });
    await scene.drain();
    expect((await ask(scene.patients.url, `/api/patients/${mrn}`)).status).toBe(200);
    expect(await outboxRows(scene.patients.pool, 'patients', mrn)).toBe(0);
    expect(await outboxRows(scene.patients.pool, 'admissions', mrn)).toBe(0);
    await settled();
    expect(await legacyCount('ADMISSION WHERE VISIT_NO = $1', 'V7400033')).toBe(1);
    expect(await legacyCount('PATIENT_MASTER WHERE PAT_MRN = $1', mrn)).toBe(1);
  });

  it("an A01 the legacy got too is one stay in patient-service once the legacy's CDC comes, the service holding the record", async () => {
    // the service's copy is an early one the legacy's CDC takes over; applied as the service's own
    // (a service id, not provisional), the legacy's stay came beside it (a chaos probe, 7 December:
    // 650 of 800 stays twice, one without its visit number)
    const mrn = '7400034';
    const message = a01(mrn, 'DUALSTAY', 'V7400034', minutes(3));
    await toLegacyInbound(message);
    await scene.sendHl7('patient-service', message, { legacyToo: true });
    await scene.drain();
    await scene.cdc.sync(['patients', 'admissions']);
    await scene.drain();
    const { rows } = await scene.patients.pool.query<{ id: string; visit_number: string | null }>('SELECT id, visit_number FROM encounter WHERE mrn = $1', [mrn]);
    const legacyStay = (await scene.legacy.pool.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1', ['V7400034'])).rows[0]!;
    expect(rows).toEqual([{ id: String(legacyStay.adm_id), visit_number: 'V7400034' }]);
    expect(await serviceJson(`/api/encounters?mrn=${mrn}`)).toEqual(await legacyJson(`/api/encounters?mrn=${mrn}`));
    expect(await serviceJson(`/api/patients/${mrn}`)).toEqual(await legacyJson(`/api/patients/${mrn}`));
  });

  it('through the real HL7 adapter: an A01 in mode dual is queued with legacyToo, applied by both, and in the legacy once', async () => {
    const mrn = '7400055';
    const message = a01(mrn, 'DUALPROBE', 'V7400055', minutes(3));
    await throughAdapter('dual', message);
    await expect.poll(() => queuedJob(controlIdOf(message)), { timeout: 10_000 }).toMatchObject({ legacyToo: true });
    expect(await outboxRows(scene.patients.pool, 'patients', mrn)).toBe(0);
    expect(await outboxRows(scene.patients.pool, 'admissions', mrn)).toBe(0);
    await settled();
    expect(await legacyCount('ADMISSION WHERE VISIT_NO = $1', 'V7400055')).toBe(1);
  });

  it('an ORU the legacy got too is one result in the legacy, and not in the outbox', async () => {
    const mrn = seeded[1]!;
    const message = oru(mrn, 'L74000002', '6.1', 'F', minutes(3));
    await toLegacyInbound(message);
    await scene.sendHl7('results-service', message, { legacyToo: true });
    await scene.drain();
    expect(await outboxRows(scene.results.pool, 'lab-results', mrn)).toBe(0);
    await settled();
    expect(await legacyCount('LAB_RESULT WHERE ORDER_NO = $1', 'L74000002')).toBe(1);
  });
});
