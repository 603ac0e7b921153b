/**
 * The conflict rule (README, "The conflict rule"), case by case, on real queues and databases:
 * HL7 first then the CDC of the same change; CDC first then a late, older HL7 message; HL7
 * messages out of order; CDC changes out of order; and, once the service is the system of
 * record, a legacy writer's change older than the service's own (a conflict, recorded), a
 * newer one (applied), and Ficus's own write-back coming back (skipped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyPatient } from '@ficus/legacy-his';
import { patientTopicRow } from '@ficus/patient-service';
import type { OutboxSeam, OutgoingChange } from '@ficus/service-kit';
import { ask, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let seeded: string[];
/** what the services handed to the outbox seam, in commit order; a last name of FAILOUTBOX makes the seam fail */
const outgoing: OutgoingChange[] = [];
const recordingOutbox: OutboxSeam = async (tx, change) => {
  if (change.after?.lastName === 'FAILOUTBOX') throw new Error('the outbox is down');
  // a real outbox writes its row with this client, inside the change's transaction
  await tx.query('SELECT 1');
  outgoing.push(change);
};

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_conflict', redisDb: 13, patients: 40, seed: 1_301, hl7Inbound: true, outbox: { patients: recordingOutbox, results: recordingOutbox } });
  await scene.cdc.snapshot();
  await scene.drain();
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 10`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await scene?.close();
});

const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const a08 = (mrn: string, family: string, at: Date) =>
  hl7(msh('ADT^A08^ADT_A01', uniqueControlId('A08'), { time: hl7Time(at) }), `EVN|A08|${hl7Time(at)}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: `${family}^JO` }));
const servicePatient = async (mrn: string) => JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as LegacyPatient;
const legacyPatient = async (mrn: string) => JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body) as LegacyPatient;
const row = async (mrn: string) =>
  (
    await scene.patients.pool.query<{ committed_position: string | null; hl7_seq: string | null; local_changed_at: Date | null }>(
      'SELECT committed_position, hl7_seq, local_changed_at FROM patient WHERE mrn = $1',
      [mrn],
    )
  ).rows[0]!;
const outcomeOf = async (controlId: string) =>
  (await scene.patients.pool.query<{ outcome: string }>('SELECT outcome FROM ficus_hl7_applied WHERE control_id = $1', [controlId])).rows[0]?.outcome;
const metric = async (name: string, labels: string) => {
  const text = (await ask(scene.patients.url, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('while the legacy system is the system of record', () => {
  it('HL7 first: an early, provisional copy; the CDC of the same change confirms it and gives the stay the legacy id', async () => {
    const mrn = '7300001';
    const at = minutes(1);
    const message = hl7(
      msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: hl7Time(at) }),
      `EVN|A01|${hl7Time(at)}`,
      segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'EARLY^BIRD', 7: '19900101', 8: 'F' }),
      segment('PV1', { 1: '1', 2: 'I', 3: 'MED2^^9', 19: 'V7300001', 44: '202407020900' }),
    );
    await scene.sendHl7('patient-service', message);
    await scene.drain();
    const early = await scene.patients.pool.query<{ id: string; provisional: boolean }>('SELECT id, provisional FROM encounter WHERE visit_number = $1', ['V7300001']);
    expect(early.rows[0]).toMatchObject({ provisional: true });
    expect(Number(early.rows[0]!.id)).toBeGreaterThanOrEqual(1_000_000_000);
    expect((await row(mrn)).committed_position).toBeNull();
    expect((await servicePatient(mrn)).lastName).toBe('EARLY');

    // the legacy applies the same message; its committed rows come through CDC
    const client = await MllpClient.connect(scene.inbound!.port);
    expect((await client.request(message)).code).toBe('AA');
    client.close();
    await scene.cdc.sync();
    await scene.drain();
    const legacyId = (await scene.legacy.pool.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1', ['V7300001'])).rows[0]!.adm_id;
    const confirmed = await scene.patients.pool.query<{ id: string; provisional: boolean }>('SELECT id, provisional FROM encounter WHERE visit_number = $1', ['V7300001']);
    expect(confirmed.rows).toEqual([{ id: String(legacyId), provisional: false }]);
    expect((await row(mrn)).committed_position).not.toBeNull();
    const [legacy, service] = await Promise.all([ask(scene.legacy.base, `/api/encounters?mrn=${mrn}`), ask(scene.patients.url, `/api/encounters?mrn=${mrn}`)]);
    expect(service).toEqual(legacy);
  });

  it("CDC first: a late HL7 message older than the legacy's committed state is not applied (stale)", async () => {
    const mrn = seeded[0]!;
    // a legacy screen renames the patient; CDC brings it
    const current = await legacyPatient(mrn);
    const put = await fetch(`${scene.legacy.base}/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...current, lastName: 'SCREEN' }) });
    expect(put.status).toBe(200);
    await scene.cdc.sync(['patients']);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('SCREEN');
    // an A08 sent an hour ago, delivered only now
    const late = a08(mrn, 'LATE', minutes(-60));
    const job = await scene.sendHl7('patient-service', late);
    await scene.drain();
    expect(await outcomeOf(job.controlId)).toBe('stale');
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
    expect(await metric('ficus_service_hl7_messages_total', 'outcome="stale"')).toBeGreaterThanOrEqual(1);
  });

  it('HL7 out of order: a message older than the last one applied to the row does not overwrite it', async () => {
    const mrn = seeded[1]!;
    const newer = await scene.sendHl7('patient-service', a08(mrn, 'NEWER', minutes(2)), { messageId: 900_002 });
    const older = await scene.sendHl7('patient-service', a08(mrn, 'OLDER', minutes(1)), { messageId: 900_003 });
    await scene.drain();
    expect(await outcomeOf(newer.controlId)).toBe('applied');
    expect(await outcomeOf(older.controlId)).toBe('stale');
    expect((await servicePatient(mrn)).lastName).toBe('NEWER');
    // same MSH-7: the adapter's receive order decides
    const first = await scene.sendHl7('patient-service', a08(mrn, 'SAMEONE', minutes(3)), { messageId: 900_010 });
    const second = await scene.sendHl7('patient-service', a08(mrn, 'SAMETWO', minutes(3)), { messageId: 900_011 });
    await scene.drain();
    expect([await outcomeOf(first.controlId), await outcomeOf(second.controlId)]).toEqual(['applied', 'applied']);
    expect((await servicePatient(mrn)).lastName).toBe('SAMETWO');
  });

  it('CDC out of order: a change older (by source position) than the one applied is skipped', async () => {
    const mrn = seeded[2]!;
    const base = await legacyPatient(mrn);
    const topicRow = (lastName: string) => toTopic(base, lastName);
    const older = scene.cdc.nextPosition();
    const newer = scene.cdc.nextPosition();
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, topicRow('SECOND'), {}, newer)]);
    await scene.drain();
    const skippedBefore = await metric('ficus_service_cdc_changes_total', 'outcome="skipped"');
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, topicRow('FIRST'), {}, older)]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('SECOND');
    expect(await metric('ficus_service_cdc_changes_total', 'outcome="skipped"')).toBe(skippedBefore + 1);
  });

  it('refuses writes: patients are written in the legacy until the flip (PAT-503)', async () => {
    const res = await ask(scene.patients.url, '/api/patients', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lastName: 'X', firstName: 'Y', dateOfBirth: '2000-01-01', sex: 'U' }) });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ errorCode: 'PAT-503' });
  });
});

describe('once the service is the system of record', () => {
  beforeAll(async () => {
    await scene.restart('patients', 'service');
  });

  it("a legacy writer's change older than the service's own change is a conflict: recorded, not applied", async () => {
    const mrn = seeded[3]!;
    const read = await ask(scene.patients.url, `/api/patients/${mrn}`);
    const mine = await ask(scene.patients.url, `/api/patients/${mrn}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': read.headers.etag! },
      body: JSON.stringify({ ...(JSON.parse(read.body) as LegacyPatient), lastName: 'SERVICE' }),
    });
    expect(mine.status).toBe(200);
    expect((await row(mrn)).local_changed_at).not.toBeNull();
    const before = await metric('ficus_service_conflicts_total', 'topic="patients"');

    // a legacy screen still in use saved the patient a minute before the service did
    const legacyRow = toTopic(JSON.parse(read.body) as LegacyPatient, 'OLDSCREEN');
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, legacyRow, { commitTime: minutes(-1).toISOString() })]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('SERVICE');
    const conflicts = await scene.patients.pool.query<{ topic: string; key: string; reason: string }>('SELECT topic, key, reason FROM ficus_change_conflicts');
    expect(conflicts.rows).toEqual([expect.objectContaining({ topic: 'patients', key: JSON.stringify({ mrn }) })]);
    expect(await metric('ficus_service_conflicts_total', 'topic="patients"')).toBe(before + 1);

    // Ficus's own write-back coming back through CDC is skipped, however new
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, toTopic(JSON.parse(read.body) as LegacyPatient, 'ECHO'), { origin: 'ficus-writeback', commitTime: minutes(5).toISOString() })]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('SERVICE');

    // a legacy change made after the service's is applied
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, toTopic(JSON.parse(read.body) as LegacyPatient, 'NEWSCREEN'), { commitTime: minutes(1).toISOString() })]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('NEWSCREEN');
    expect((await scene.patients.pool.query('SELECT 1 FROM ficus_change_conflicts')).rowCount).toBe(1);
  });

  it('HL7 in mode new is authoritative: it changes the row as a local change, and an older legacy change is then a conflict', async () => {
    const mrn = seeded[4]!;
    const job = await scene.sendHl7('patient-service', a08(mrn, 'VIAHL7', minutes(0)));
    await scene.drain();
    expect(await outcomeOf(job.controlId)).toBe('applied');
    expect((await row(mrn)).local_changed_at).not.toBeNull();
    const p = await servicePatient(mrn);
    expect(p).toMatchObject({ lastName: 'VIAHL7', lastUpdatedBy: 'ADT_IFACE' });
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, toTopic(p, 'STALE'), { commitTime: minutes(-2).toISOString() })]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('VIAHL7');
    expect((await scene.patients.pool.query('SELECT 1 FROM ficus_change_conflicts')).rowCount).toBe(2);
  });

  it('hands its own changes (API writes, HL7) to the outbox seam in their transaction; a failing seam fails the write', async () => {
    // nothing was handed over while the legacy was the system of record: the two changes made here since
    expect(outgoing.filter((c) => c.topic === 'patients').map((c) => [c.op, c.key, c.after?.lastName, c.after?.lastUpdatedBy])).toEqual([
      ['update', { mrn: seeded[3] }, 'SERVICE', 'HISAPI'],
      ['update', { mrn: seeded[4] }, 'VIAHL7', 'ADT_IFACE'],
    ]);
    expect(outgoing[0]).toMatchObject({ before: { lastName: expect.any(String), active: 'Y' }, after: { mrn: seeded[3], active: 'Y', created: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/) } });
    const mrn = seeded[6]!;
    const before = await ask(scene.patients.url, `/api/patients/${mrn}`);
    const failed = await ask(scene.patients.url, `/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...(JSON.parse(before.body) as LegacyPatient), lastName: 'FAILOUTBOX' }) });
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ errorCode: 'PAT-500' });
    expect(await ask(scene.patients.url, `/api/patients/${mrn}`)).toEqual(before);
    // an admission taken from HL7 goes out as the admissions topic's row
    const at = minutes(0);
    await scene.sendHl7(
      'patient-service',
      hl7(msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: hl7Time(at) }), segment('PID', { 1: '1', 3: '7300009', 5: 'OUT^BOX', 7: '19500101', 8: 'F' }), segment('PV1', { 1: '1', 2: 'I', 3: 'MED1', 19: 'V7300009', 44: '202407050700' })),
    );
    await scene.drain();
    expect(outgoing.slice(-2).map((c) => [c.topic, c.op])).toEqual([
      ['patients', 'create'],
      ['admissions', 'create'],
    ]);
    expect(outgoing.at(-1)!.after).toMatchObject({ mrn: '7300009', admitDate: '2024-07-05T07:00:00', dischargeDate: null, ward: 'MED1', admissionType: 'I', visitNumber: 'V7300009' });
  });

  it('registers patients under MRNs of its block, never one it has seen', async () => {
    // the legacy (or a sending system) used an MRN inside the block: the service skips past it
    const inBlock = '9000005';
    const p = await servicePatient(seeded[5]!);
    await scene.cdc.publish([scene.cdc.event('patients', 'create', { mrn: inBlock }, null, toTopic({ ...p, mrn: inBlock }, 'INBLOCK'))]);
    await scene.drain();
    const body = JSON.stringify({ lastName: 'NEW', firstName: 'ONE', dateOfBirth: '2000-01-01', sex: 'U' });
    const created = await ask(scene.patients.url, '/api/patients', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/api/patients/9000006');
    const next = await ask(scene.patients.url, '/api/patients', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(next.headers.location).toBe('/api/patients/9000007');
  });
});

describe('a legacy edit and the service\'s own, of one patient, merged field by field', () => {
  const put = async (mrn: string, change: Partial<LegacyPatient>) => {
    const read = await ask(scene.patients.url, `/api/patients/${mrn}`);
    const res = await ask(scene.patients.url, `/api/patients/${mrn}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': read.headers.etag! },
      body: JSON.stringify({ ...(JSON.parse(read.body) as LegacyPatient), ...change }),
    });
    expect(res.status, res.body).toBe(200);
    return JSON.parse(read.body) as LegacyPatient;
  };
  /** the legacy's change as CDC carries it under REPLICA IDENTITY FULL: the old row and the new */
  const legacyChange = (was: LegacyPatient, change: Partial<LegacyPatient>, commitTime: Date) =>
    scene.cdc.event('patients', 'update', { mrn: was.mrn }, patientTopicRow(was), patientTopicRow({ ...was, ...change, lastUpdatedBy: 'CLERK' }), { commitTime: commitTime.toISOString() });
  const conflictsOf = async (mrn: string) =>
    (await scene.patients.pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE key = $1 ORDER BY id', [JSON.stringify({ mrn })])).rows.map((r) => r.reason);

  it('a legacy screen\'s edit of another field is taken, however its commit time falls; the service\'s own edit stays', async () => {
    const mrn = seeded[7]!;
    const was = await put(mrn, { lastName: 'SERVICEEDIT' });
    // a legacy screen changed the phone a moment before the service's write (without it)
    await scene.cdc.publish([legacyChange(was, { phone: '555-0142' }, minutes(-1))]);
    await scene.drain();
    // the bookkeeping follows the same rule: the screen saved without the service's write, so the service's stamp stays (and is written back)
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'SERVICEEDIT', phone: '555-0142', lastUpdatedBy: 'HISAPI' });
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('a field both changed keeps the service\'s value and is a conflict naming the field; the rest of the change is applied', async () => {
    const mrn = seeded[8]!;
    const was = await put(mrn, { lastName: 'SERVICEWINS' });
    const before = await metric('ficus_service_conflicts_total', 'topic="patients"');
    await scene.cdc.publish([legacyChange(was, { lastName: 'SCREENLOSES', address: { ...was.address, city: 'OTHERTOWN' } }, minutes(1))]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'SERVICEWINS', address: { city: 'OTHERTOWN' } });
    expect(await conflictsOf(mrn)).toEqual([expect.stringContaining('kept its own lastName')]);
    expect(await metric('ficus_service_conflicts_total', 'topic="patients"')).toBe(before + 1);
    // a later legacy edit made on top of the service's value (the write-back had landed) is taken
    const now = await servicePatient(mrn);
    await scene.cdc.publish([legacyChange(now, { lastName: 'INFORMED' }, minutes(2))]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'INFORMED', lastUpdatedBy: 'CLERK' });
    expect(await conflictsOf(mrn)).toHaveLength(1);
  });

  it('several legacy changes of one patient in one job: every field any of them changed is taken', async () => {
    const mrn = seeded[9]!;
    const was = await put(mrn, { firstName: 'KEPT' });
    const first = legacyChange(was, { phone: '555-0177' }, minutes(1));
    const second = scene.cdc.event('patients', 'update', { mrn }, first.after, { ...first.after!, zip: '60601' }, { commitTime: minutes(1).toISOString() });
    await scene.cdc.publish([first, second]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ firstName: 'KEPT', phone: '555-0177', address: { zip: '60601' } });
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('an HL7 message in mode new hands over what it changed, and a legacy screen\'s edit of another field meets it field by field', async () => {
    const mrn = seeded[6]!;
    const was = await servicePatient(mrn);
    const job = await scene.sendHl7('patient-service', a08(mrn, 'FROMADT', minutes(0)));
    await scene.drain();
    expect(await outcomeOf(job.controlId)).toBe('applied');
    const handed = outgoing.filter((c) => c.key.mrn === mrn).at(-1)!;
    expect(handed).toMatchObject({ op: 'update', before: { lastName: was.lastName }, after: { lastName: 'FROMADT' } });
    // a legacy screen, not knowing the message, changed the phone (committed after it)
    await scene.cdc.publish([legacyChange(was, { phone: '555-0163' }, minutes(1))]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'FROMADT', phone: '555-0163' });
    expect(await conflictsOf(mrn)).toEqual([]);
  });

  it('takes the legacy\'s stamp from its copy of the service\'s own write when that copy holds the service\'s data (a LAST_UPD_DT trigger)', async () => {
    const mrn = seeded[9]!;
    const p = await servicePatient(mrn);
    const echo = (lastName: string, lastUpdated: string) =>
      scene.cdc.event('patients', 'update', { mrn }, patientTopicRow(p), patientTopicRow({ ...p, lastName, lastUpdated }), { origin: 'ficus-writeback' });
    const pending = async () => (await scene.patients.pool.query<{ f: string[] }>('SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', [mrn])).rows[0]!.f;
    expect(await pending()).toContain('firstName'); // its own edit above, not yet seen in the legacy
    await scene.cdc.publish([echo(p.lastName, '2031-01-01T00:00:01')]);
    await scene.drain();
    expect(await servicePatient(mrn)).toEqual({ ...p, lastUpdated: '2031-01-01T00:00:01' });
    expect(await pending()).toEqual([]); // the legacy holds it all now
    // a copy of another state (an older write-back) changes nothing
    await scene.cdc.publish([echo('OLDERWRITE', '2032-01-01T00:00:01')]);
    await scene.drain();
    expect(await servicePatient(mrn)).toEqual({ ...p, lastUpdated: '2031-01-01T00:00:01' });
  });

  it('without a before image (a source that does not give one), the whole-row rule by commit time stands', async () => {
    const mrn = seeded[7]!;
    await put(mrn, { firstName: 'LOCALLATER' });
    const p = await servicePatient(mrn);
    await scene.cdc.publish([scene.cdc.event('patients', 'update', { mrn }, null, patientTopicRow({ ...p, firstName: 'OLDSCREEN', phone: '555-0000' }), { commitTime: minutes(-3).toISOString() })]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ firstName: 'LOCALLATER', phone: '555-0142' });
    expect(await conflictsOf(mrn)).toEqual([expect.stringContaining('changed in patient-service after this legacy change')]);
  });
});

describe('after a rollback: the legacy holds the record again', () => {
  beforeAll(async () => {
    await scene.restart('patients', 'legacy');
  });

  it('a write-back still landing (held behind a legacy screen\'s lock) is applied like any legacy change: its state wins, in order', async () => {
    const mrn = seeded[8]!;
    const p = await servicePatient(mrn);
    const screen = { ...p, lastName: 'SCREEN', address: { ...p.address, city: 'SCREENCITY' }, lastUpdatedBy: 'WARDCLERK' };
    const landed = { ...screen, lastName: 'WRITTENBACK', phone: '555-0188', lastUpdatedBy: 'HISAPI' };
    await scene.cdc.publish([
      scene.cdc.event('patients', 'update', { mrn }, patientTopicRow(p), patientTopicRow(screen)),
      scene.cdc.event('patients', 'update', { mrn }, patientTopicRow(screen), patientTopicRow(landed), { origin: 'ficus-writeback' }),
    ]);
    await scene.drain();
    expect(await servicePatient(mrn)).toMatchObject({ lastName: 'WRITTENBACK', phone: '555-0188', address: { city: 'SCREENCITY' }, lastUpdatedBy: 'HISAPI' });
    // and a legacy edit after it, in the same job, is not undone by the write-back before it
    const later = { ...landed, lastName: 'AFTERWARDS' };
    await scene.cdc.publish([
      scene.cdc.event('patients', 'update', { mrn }, patientTopicRow(landed), patientTopicRow({ ...landed, lastName: 'SECONDWRITE' }), { origin: 'ficus-writeback' }),
      scene.cdc.event('patients', 'update', { mrn }, patientTopicRow({ ...landed, lastName: 'SECONDWRITE' }), patientTopicRow(later)),
    ]);
    await scene.drain();
    expect((await servicePatient(mrn)).lastName).toBe('AFTERWARDS');
  });
});

/** the patient as the legacy's CDC would publish it after a clerk renamed them */
function toTopic(p: LegacyPatient, lastName: string): Record<string, unknown> {
  return patientTopicRow({ ...p, lastName, lastUpdatedBy: 'CLERK' });
}
