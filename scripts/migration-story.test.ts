/**
 * The whole migration, end to end, on the demo stack (`npm start`'s own script, its own private
 * PostgreSQL and Redis, every deployable a real process on real sockets): HL7 over MLLP and
 * legacy HTTP writes reach the new services; patients-read goes to canary 50 % and to new with
 * answers through the gateway identical to the legacy's for every patient; patients-write goes
 * to new and a write through the gateway reaches the legacy database (outbox, write-back);
 * a rollback loses nothing and reconciliation is clean; and with patient-service stopped while
 * reads are new, every safe request is answered from legacy.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '@ficus/contracts';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../examples/legacy-his/test/support/mllp-client.js';
import { freePort, REPO_ROOT } from './lib/local-services.js';
import { demoPortEnv, pickDemoPorts, type DemoPort, type DemoPorts } from './lib/demo-ports.js';
import { startDemoProcess, type DemoProcess } from './lib/demo-process.js';

const run = promisify(execFile);
const TOKEN = `ficus_e2e-${process.pid}-0123456789abcdefghijklmnopqrstuvwxyz`;
const SEEDED = 120;

let demo: DemoProcess | undefined;
const output = () => demo?.output() ?? '';
let ports: DemoPorts;
const url = (p: DemoPort) => `http://127.0.0.1:${ports[p]}`;

beforeAll(async () => {
  ports = await pickDemoPorts(() => freePort());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FICUS_DEMO_NAME: `e2e-${process.pid}`,
    FICUS_DEMO_EPHEMERAL: 'true',
    FICUS_ADMIN_TOKEN: TOKEN,
    ...demoPortEnv(ports),
    LEGACY_HIS_SEED_PATIENTS: String(SEEDED),
    LOG_LEVEL: 'warn',
    // the story writes through the gateway, then counts which side answers reads: reads of what
    // it wrote stay on legacy only briefly (read-after-write.test.ts proves the hold itself)
    FICUS_READ_AFTER_WRITE_MS: '500',
  };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.NODE_OPTIONS;
  demo = startDemoProcess(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', 'scripts/demo.ts'], REPO_ROOT, env);
  await demo.up(250_000);
}, 300_000);

afterAll(async () => {
  await demo?.interrupt();
}, 90_000);

interface Answer {
  status: number;
  body: string;
  route: string | null;
}

async function ask(base: string, p: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(base + p, init);
  return { status: res.status, body: await res.text(), route: res.headers.get('x-ficus-route') };
}

async function admin<T = Record<string, unknown>>(method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(url('admin') + p, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const currentVersion = async () => (await admin<{ current: number }>('GET', '/api/versions')).current;

async function flip(rule: string, mode: string, percent?: number): Promise<number> {
  const r = await admin<{ version: number }>('POST', `/api/rules/${rule}/flip`, { mode, percent, reason: `migration story: ${rule} to ${mode}`, baseVersion: await currentVersion() });
  return r.version;
}

/** waits (bounded) until check holds */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output().slice(-3000)}`);
    await sleep(100);
  }
}

/** the gateway serves a rule's new mode once a request says so */
const routedTo = (p: string, upstream: string, init?: RequestInit) => until(`${p} routed to ${upstream}`, async () => (await ask(url('gateway'), p, init)).route?.endsWith(`; ${upstream}`) ?? false);

async function allMrns(base: string): Promise<string[]> {
  const mrns: string[] = [];
  for (let page = 1; ; page++) {
    const body = JSON.parse((await ask(base, `/api/patients?page=${page}&pageSize=100`)).body) as { items: { mrn: string }[]; total: number };
    mrns.push(...body.items.map((i) => i.mrn));
    if (body.items.length === 0 || mrns.length >= body.total) return mrns;
  }
}

/** every path answered through the gateway exactly as the legacy answers it; answers which upstreams served */
async function sameAsLegacy(paths: string[]): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  for (const p of paths) {
    const [through, legacy] = await Promise.all([ask(url('gateway'), p), ask(url('legacy'), p)]);
    expect({ path: p, status: through.status, body: through.body }).toEqual({ path: p, status: legacy.status, body: legacy.body });
    const upstream = through.route?.split('; ')[1] ?? '(none)';
    served.set(upstream, (served.get(upstream) ?? 0) + 1);
  }
  return served;
}

const samePatientEverywhere = (mrn: string) =>
  until(`patient ${mrn} alike in legacy and patient-service`, async () => {
    const [l, s] = await Promise.all([ask(url('legacy'), `/api/patients/${mrn}`), ask(url('patientService'), `/api/patients/${mrn}`)]);
    return l.status === 200 && l.body === s.body;
  });

/** one message over MLLP to the HL7 adapter, on a connection of its own; answers the ACK code */
async function sendHl7(message: string): Promise<string> {
  const client = await MllpClient.connect(ports.hl7!);
  try {
    return (await client.request(message)).code;
  } finally {
    client.close();
  }
}

const json = (body: Record<string, unknown>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'e2e-clerk' }, body: JSON.stringify(body) });

describe('the migration story, end to end on the demo stack', () => {
  const hl7Mrn = '7700001';
  /** an ORU^R01 from the lab for the story's HL7 patient and stay: one final, high numeric result */
  const labResult = (orderNo: string, observed: string, obx: Record<number, string>) =>
    hl7(
      msh('ORU^R01^ORU_R01', uniqueControlId('E2E'), { facility: 'CORELAB' }),
      `PID|1||${hl7Mrn}^^^GENHOSP^MR`,
      segment('PV1', { 1: '1', 19: 'V7700001' }),
      segment('OBR', { 1: '1', 3: orderNo, 7: observed }),
      segment('OBX', { 1: '1', 2: 'NM', ...obx, 8: 'H', 11: 'F' }),
    );
  let seededMrns: string[] = [];
  let legacyMadeMrn = '';
  let serviceMadeMrn = '';
  let firstVersion = 0;

  it('HL7 over MLLP and legacy HTTP writes reach the new services', { timeout: 120_000 }, async () => {
    firstVersion = await currentVersion();
    seededMrns = await allMrns(url('legacy'));
    expect(seededMrns.length).toBeGreaterThanOrEqual(SEEDED);
    const a01 = hl7(
      msh('ADT^A01^ADT_A01', uniqueControlId('E2E'), {}),
      'EVN|A01',
      segment('PID', { 1: '1', 3: `${hl7Mrn}^^^GENHOSP^MR`, 5: 'STORY^ANNA', 7: '19800101', 8: 'F' }),
      segment('PV1', { 1: '1', 2: 'I', 3: 'MED^^4', 19: 'V7700001', 44: '202601010800' }),
    );
    expect(await sendHl7(a01)).toBe('AA');
    await until('the admission in the legacy', async () => (await ask(url('legacy'), `/api/encounters?mrn=${hl7Mrn}`)).status === 200);
    const oru = labResult('L77000001', '20260101090000', { 3: '2345-7^GLUCOSE^LN', 5: '101', 6: 'mg/dL', 7: '70-99' });
    expect(await sendHl7(oru)).toBe('AA');
    // a registration and an update through the gateway, to the legacy (patients-write is legacy)
    const made = await ask(url('gateway'), '/api/patients', json({ lastName: 'LEGACYMADE', firstName: 'LENA', dateOfBirth: '1971-03-04', sex: 'F' }));
    expect(made.status, made.body).toBe(201);
    expect(made.route).toBe('patients-write; legacy');
    legacyMadeMrn = (JSON.parse(made.body) as { mrn: string }).mrn;
    const updated = await ask(url('gateway'), `/api/patients/${seededMrns[0]}`, { ...json({ lastName: 'UPDATED', firstName: 'ULLA', dateOfBirth: '1960-06-06', sex: 'F', phone: '555-0100' }), method: 'PUT' });
    expect(updated.status, updated.body).toBe(200);
    // the services have them all, through CDC of the legacy database
    for (const mrn of [hl7Mrn, legacyMadeMrn, seededMrns[0]!]) await samePatientEverywhere(mrn);
    await until('the HL7 result in results-service', async () => {
      const [l, s] = await Promise.all([ask(url('legacy'), `/api/results?mrn=${hl7Mrn}`), ask(url('resultsService'), `/api/results?mrn=${hl7Mrn}`)]);
      return l.body.includes('L77000001') && l.body === s.body;
    });
  });

  it('patients-read at canary 50 % and then new: every patient answered exactly as the legacy answers', { timeout: 180_000 }, async () => {
    const everyone = [...seededMrns, hl7Mrn, legacyMadeMrn];
    for (const mrn of everyone) await samePatientEverywhere(mrn);
    const paths = everyone.flatMap((m) => [`/api/patients/${m}`, `/api/encounters?mrn=${m}`]);
    await flip('patients-read', 'canary', 50);
    await flip('encounters-read', 'canary', 50);
    await routedTo(`/api/patients/${hl7Mrn}`, 'patient-service').catch(() => routedTo(`/api/patients/${legacyMadeMrn}`, 'patient-service'));
    const split = await sameAsLegacy(paths);
    expect(split.get('patient-service')).toBeGreaterThan(paths.length * 0.3);
    expect(split.get('legacy')).toBeGreaterThan(paths.length * 0.3);
    await flip('patients-read', 'new');
    await flip('encounters-read', 'new');
    await flip('results-read', 'new');
    await routedTo(`/api/results?mrn=${hl7Mrn}`, 'results-service');
    const all = await sameAsLegacy([...paths, ...everyone.map((m) => `/api/results?mrn=${m}`)]);
    expect([...all.keys()].sort()).toEqual(['patient-service', 'results-service']);
  });

  it('patients-write to new: writes land in patient-service and reach the legacy through the outbox', { timeout: 120_000 }, async () => {
    await flip('patients-write', 'new');
    await until('patient-service as system of record', async () => (JSON.parse((await ask(url('patientService'), '/readyz')).body) as { systemOfRecord: string }).systemOfRecord === 'service');
    const made = await ask(url('gateway'), '/api/patients', json({ lastName: 'SERVICEMADE', firstName: 'SAM', dateOfBirth: '1990-09-09', sex: 'M', phone: '555-0199' }));
    expect(made.status, made.body).toBe(201);
    expect(made.route).toBe('patients-write; patient-service');
    serviceMadeMrn = (JSON.parse(made.body) as { mrn: string }).mrn;
    expect(Number(serviceMadeMrn)).toBeGreaterThanOrEqual(9_000_000);
    const updated = await ask(url('gateway'), `/api/patients/${seededMrns[1]}`, { ...json({ lastName: 'CHANGEDNEW', firstName: 'NINA', dateOfBirth: '1955-05-05', sex: 'F' }), method: 'PUT' });
    expect(updated.status, updated.body).toBe(200);
    expect(updated.route).toBe('patients-write; patient-service');
    // in the legacy database, written back: the same record, byte for byte
    for (const mrn of [serviceMadeMrn, seededMrns[1]!]) {
      await until(`patient ${mrn} written back to the legacy`, async () => {
        const [l, s] = await Promise.all([ask(url('legacy'), `/api/patients/${mrn}`), ask(url('patientService'), `/api/patients/${mrn}`)]);
        return l.status === 200 && l.body === s.body;
      });
    }
    expect((await ask(url('legacy'), `/api/patients/${seededMrns[1]}`)).body).toContain('CHANGEDNEW');
  });

  it('a legacy screen and patient-service editing one patient at once: both edits kept, both sides alike', { timeout: 120_000 }, async () => {
    const databaseUrl = /PostgreSQL: (postgres\S+)/.exec(output())?.[1];
    expect(databaseUrl, 'the demo names its PostgreSQL').toBeDefined();
    const legacyDb = new pg.Pool({ connectionString: withDatabase(databaseUrl!, 'legacy_his'), max: 4 });
    const racing = seededMrns.slice(20, 30);
    /** a clerk's edit through the gateway: read, change the last name, save with If-Match; read again on 412 */
    const clerkRenames = async (mrn: string, lastName: string) => {
      for (;;) {
        const read = await fetch(`${url('patientService')}/api/patients/${mrn}`);
        const body = { ...((await read.json()) as Record<string, unknown>), lastName };
        const saved = await fetch(`${url('gateway')}/api/patients/${mrn}`, { ...json(body), method: 'PUT', headers: { 'content-type': 'application/json', 'x-user-id': 'e2e-clerk', 'if-match': read.headers.get('etag')! } });
        if (saved.status !== 412) return `${saved.status} ${saved.status === 200 ? '' : await saved.text()}`.trim();
      }
    };
    try {
      await Promise.all(
        racing.map(async (mrn, i) => {
          // the two writes a few milliseconds apart, in either order
          const screen = async () => {
            await sleep(i % 2 === 0 ? i : 0);
            await legacyDb.query("UPDATE PATIENT_MASTER SET PHONE_NO = $2, LAST_UPD_DT = LOCALTIMESTAMP(0), LAST_UPD_USER = 'WARDCLERK' WHERE PAT_MRN = $1", [mrn, `555-07${String(i).padStart(2, '0')}`]);
          };
          const service = async () => {
            await sleep(i % 2 === 1 ? i : 0);
            expect(await clerkRenames(mrn, `RACE${'ABCDEFGHIJ'[i]}`)).toBe('200');
          };
          await Promise.all([screen(), service()]);
        }),
      );
      for (const [i, mrn] of racing.entries()) {
        let sides: [Answer, Answer] | undefined;
        await until(`patient ${mrn} alike on both sides`, async () => {
          sides = await Promise.all([ask(url('legacy'), `/api/patients/${mrn}`), ask(url('patientService'), `/api/patients/${mrn}`)]);
          return sides[0].body === sides[1].body;
        }).catch(() => expect(JSON.parse(sides![1].body), `patient ${mrn}: the service's copy against the legacy's`).toEqual(JSON.parse(sides![0].body)));
        expect(JSON.parse((await ask(url('legacy'), `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: `RACE${'ABCDEFGHIJ'[i]}`, phone: `555-07${String(i).padStart(2, '0')}` });
      }
    } finally {
      await legacyDb.end();
    }
  });

  it('lab-results to new: results-service takes the results over MLLP alone, and they reach the legacy through its outbox', { timeout: 120_000 }, async () => {
    await flip('lab-results', 'new');
    await until('results-service as system of record', async () => (JSON.parse((await ask(url('resultsService'), '/readyz')).body) as { systemOfRecord: string }).systemOfRecord === 'service');
    const oru = labResult('L77000002', '20260102090000', { 3: '2823-3^POTASSIUM^LN', 5: '5.9', 6: 'mmol/L', 7: '3.5-5.1' });
    expect(await sendHl7(oru)).toBe('AA');
    // the legacy interface no longer gets ORU: the legacy learns the result from the write-back
    await until('the result written back to the legacy', async () => {
      const [l, s] = await Promise.all([ask(url('legacy'), `/api/results?mrn=${hl7Mrn}`), ask(url('resultsService'), `/api/results?mrn=${hl7Mrn}`)]);
      return l.body.includes('L77000002') && l.body === s.body;
    });
  });

  it('a rollback goes back to the legacy everywhere and loses nothing; reconciliation is clean', { timeout: 120_000 }, async () => {
    await admin('POST', '/api/rollback', { version: firstVersion, reason: 'migration story: back to legacy', baseVersion: await currentVersion() });
    await routedTo(`/api/patients/${serviceMadeMrn}`, 'legacy');
    await until('the legacy as system of record again', async () => (JSON.parse((await ask(url('patientService'), '/readyz')).body) as { systemOfRecord: string }).systemOfRecord === 'legacy');
    // what was written while the service held the record is in the legacy
    const back = await ask(url('gateway'), `/api/patients/${serviceMadeMrn}`);
    expect(back.status).toBe(200);
    expect(back.body).toContain('SERVICEMADE');
    const write = await ask(url('gateway'), '/api/patients', json({ lastName: 'AFTERROLLBACK', firstName: 'ROB', dateOfBirth: '1999-01-01', sex: 'M' }));
    expect(write.status).toBe(201);
    expect(write.route).toBe('patients-write; legacy');
    // the service is refused writes again (the legacy holds the record)
    expect((await ask(url('patientService'), `/api/patients`, json({ lastName: 'REFUSED', firstName: 'RITA', dateOfBirth: '1999-01-01', sex: 'F' }))).status).toBe(503);
    // every patient alike on both sides
    const everyone = await allMrns(url('legacy'));
    for (const mrn of everyone) await samePatientEverywhere(mrn);
    expect((await allMrns(url('patientService'))).sort()).toEqual([...everyone].sort());
    // and the reconciliation command says so: same counts, same checksums, exit 0
    for (const [what, service] of [['patients', url('patientService')], ['results', url('resultsService')]] as const) {
      const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'cli/bin/ficus.js'), 'reconcile', what, '--legacy', url('legacy'), '--service', service, '--json'], { cwd: REPO_ROOT });
      const report = JSON.parse(stdout) as { entities: { entity: string; legacy: { count: number }; service: { count: number }; checksumsMatch: boolean }[] };
      for (const e of report.entities) {
        expect(e, `${what}: ${e.entity}`).toMatchObject({ checksumsMatch: true });
        expect(e.service.count).toBe(e.legacy.count);
      }
    }
  });

  it('with patient-service stopped while reads are new, every safe request is answered from legacy', { timeout: 120_000 }, async () => {
    await flip('patients-read', 'new');
    await routedTo(`/api/patients/${hl7Mrn}`, 'patient-service');
    const pid = Number(/patient-service is ready \(pid (\d+)\)/.exec(output())?.[1]);
    expect(pid).toBeGreaterThan(0);
    const mrns = seededMrns.slice(0, 60);
    let failures = 0;
    let answered = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        for (const mrn of mrns) {
          const [through, legacy] = await Promise.all([ask(url('gateway'), `/api/patients/${mrn}`), ask(url('legacy'), `/api/patients/${mrn}`)]);
          answered++;
          if (through.status !== 200 || through.body !== legacy.body) failures++;
        }
      }
    })();
    await sleep(500);
    process.kill(pid, 'SIGKILL');
    await until('patient-service gone', async () => (await fetch(url('patientService') + '/healthz').then(() => false, () => true)));
    await sleep(3_000);
    stop = true;
    await load;
    expect(answered).toBeGreaterThan(100);
    expect(failures).toBe(0);
    const fallback = await ask(url('gateway'), `/api/patients/${mrns[0]}`);
    expect(fallback.status).toBe(200);
    expect(fallback.route).toMatch(/^patients-read; legacy/);
  });
});
