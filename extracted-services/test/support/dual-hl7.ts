/**
 * The scene of patient-service's ADT tests beside the legacy inbound (adt-cancels, adt-class-change,
 * adt-identifier-change, adt-stay-by-state): the write-back scene with the legacy's HL7 inbound and
 * a connection to it; and what those tests send and compare over whichever scene the file has
 * started (`current`): the message to the legacy, to the service's queue, to both as the adapter
 * does in mode dual, alone in mode new, and both APIs' answers early and once the legacy's CDC came.
 */
import { expect } from 'vitest';
import { adtMessage, pid, pv1 } from '../../../examples/legacy-his/test/support/adt-messages.js';
import { MllpClient, type Ack } from '../../../examples/legacy-his/test/support/mllp-client.js';
import { ask, deadLetters, hl7Time, type Answer, type ServiceScene } from '../../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './writeback-scene.js';

export interface DualScene {
  wb: WritebackScene;
  scene: ServiceScene;
  /** a connection to the legacy's HL7 inbound */
  client: MllpClient;
  close(): Promise<void>;
}

/** patient-service alone beside the legacy, its HL7 inbound and write-back */
export async function startDualScene(o: { prefix: string; patients: number; seed: number }): Promise<DualScene> {
  const wb = await startWritebackScene({ ...o, redis: 'own', services: ['patient-service'], hl7Inbound: true });
  try {
    const client = await MllpClient.connect(wb.scene.inbound!.port);
    return {
      wb,
      scene: wb.scene,
      client,
      async close() {
        client.close();
        await wb.close();
      },
    };
  } catch (e) {
    await wb.close();
    throw e;
  }
}

/** MSH-7 and EVN-2 `minutes` before now: older than anything the legacy commits from here on */
export const ago = (minutes: number) => hl7Time(new Date(Date.now() - minutes * 60_000));

export interface DualOptions {
  /** MSH-9.3 of every ADT message: ADT_<event> unless given */
  structure?: string;
  /** what the legacy stamps itself when the write-back lands, left out of expectLegacyGotIt's comparison */
  legacyStamps?: string[];
}

export function dualHl7(current: () => DualScene, o: DualOptions = {}) {
  const legacyStamps = o.legacyStamps ?? ['lastUpdated'];
  const scene = () => current().scene;

  const adtAt = (at: string, event: string, ...segments: string[]) => adtMessage(event, { structure: o.structure, time: at }, ...segments);
  let clock = 0;
  /** MSH-7 and EVN-2 of the next message: each a minute after the one before, all after now (newer than anything the legacy committed) */
  const next = () => hl7Time(new Date(Date.now() + ++clock * 60_000));
  const adt = (event: string, ...segments: string[]) => adtAt(next(), event, ...segments);

  const toLegacy = async (message: string, ack = 'AA'): Promise<Ack> => {
    const answer = await current().client.request(message);
    expect(answer.code, `legacy ACK ${answer.errorCodes.join(',')}`).toBe(ack);
    return answer;
  };
  const toService = async (message: string, legacyToo: boolean) => {
    await scene().sendHl7('patient-service', message, { legacyToo });
    await scene().drain();
  };
  /** the message to the legacy inbound (its ACK answered) and to patient-service's queue, as the adapter does in mode dual */
  async function toBoth(message: string, ack = 'AA'): Promise<Ack> {
    const answer = await toLegacy(message, ack);
    await toService(message, true);
    return answer;
  }
  /** the legacy's CDC of what it committed so far, taken by the service */
  const synced = async () => {
    await scene().cdc.sync();
    await scene().drain();
  };
  /** the copy to patient-service, late; what it recorded (none when it was refused) */
  async function lateCopy(message: string): Promise<string | undefined> {
    const job = await scene().sendHl7('patient-service', message, { legacyToo: true });
    await scene().drain();
    return (await scene().patients.pool.query<{ outcome: string }>('SELECT outcome FROM ficus_hl7_applied WHERE control_id = $1', [job.controlId])).rows[0]?.outcome;
  }
  /** applied by patient-service alone (mode new), its write-back published and landed in the legacy */
  async function inModeNew(message: string): Promise<void> {
    await toService(message, false);
    await expect.poll(async () => (await scene().patients.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
    await scene().drain();
  }

  const paths = (mrns: string[]) => mrns.flatMap((mrn) => [`/api/patients/${mrn}`, `/api/encounters?mrn=${mrn}`]);
  async function answers(mrns: string[]): Promise<{ legacy: Answer[]; service: Answer[] }> {
    return { legacy: await Promise.all(paths(mrns).map((p) => ask(scene().legacy.base, p))), service: await Promise.all(paths(mrns).map((p) => ask(scene().patients.url, p))) };
  }
  /** the patients and their stays, alike on both sides but for what a provisional copy cannot know yet: the legacy's ids and commit times */
  async function expectSameEarly(...mrns: string[]): Promise<void> {
    const a = await answers(mrns);
    expect(a.service.map(provisional)).toEqual(a.legacy.map(provisional));
  }
  /** the patients and their stays, byte for byte alike once the legacy's CDC came */
  async function expectSameConfirmed(...mrns: string[]): Promise<void> {
    await synced();
    const a = await answers(mrns);
    expect(a.service).toEqual(a.legacy);
  }
  /** the legacy's API answers the patients and their stays as the service does, but for the stamps the legacy writes itself */
  async function expectLegacyGotIt(...mrns: string[]): Promise<void> {
    const strip = (a: Answer) => JSON.parse(a.body, (k, x: unknown) => (legacyStamps.includes(k) ? undefined : x)) as unknown;
    const service = (await answers(mrns)).service.map(strip);
    await expect.poll(async () => (await answers(mrns)).legacy.map(strip), { timeout: 15_000 }).toEqual(service);
  }

  return {
    next,
    adt,
    adtAt,
    /** a discharge of the stay of PV1-19 */
    a03: (mrn: string, visit: string, at: string) => adt('A03', pid(mrn), pv1({ 19: visit, 36: '01', 45: at })),
    toLegacy,
    toService,
    toBoth,
    synced,
    lateCopy,
    inModeNew,
    answers,
    expectSameEarly,
    expectSameConfirmed,
    expectLegacyGotIt,
    legacyVisits: async (mrn: string) =>
      (await scene().legacy.pool.query<{ visit_no: string }>('SELECT VISIT_NO FROM ADMISSION WHERE PAT_MRN = $1 ORDER BY VISIT_NO', [mrn])).rows.map((r) => r.visit_no),
    serviceDeadLetters: async () => (await deadLetters(scene().redis)).filter((d) => d.queue.startsWith('hl7.patient-service')).map((d) => d.error),
  };
}

function provisional(a: Answer): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !['created', 'lastUpdated', 'admissionId'].includes(k)).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  return { status: a.status, body: strip(a.body ? (JSON.parse(a.body) as unknown) : null) };
}
