/**
 * One test file's scene for the extracted services: a seeded legacy HIS (HTTP and, when asked,
 * its HL7 inbound), patient-service and results-service on fresh databases of their own, the
 * CDC stand-in over the legacy tables, and HL7 jobs put on the services' queues as the HL7
 * adapter puts them. Each file uses its own Redis database (`redisDb`), so that files running
 * side by side never share a queue.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createLogger, hl7QueueName, partitionOf, type Hl7Job, type Logger } from '@ficus/contracts';
import { decodeMessage } from '@ficus/hl7-protocol';
import { startHl7Inbound, type RunningHl7Inbound } from '@ficus/legacy-his';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { loadResultsServiceConfig, startResultsService, type RunningResultsService } from '@ficus/results-service';
import type { OutboxSeam, SystemOfRecord } from '@ficus/service-kit';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { LegacyCdc } from './legacy-cdc.js';
import { startHarness, type Harness } from './legacy-his.js';

export const FAST_RETRY = { attempts: 3, baseMs: 20, maxMs: 50 };

export interface ServiceScene {
  legacy: Harness;
  /** the legacy's HL7 inbound, when asked for */
  inbound: RunningHl7Inbound | undefined;
  patients: RunningPatientService;
  results: RunningResultsService;
  cdc: LegacyCdc;
  redis: Redis;
  redisUrl: string;
  /** puts one HL7 message on a service's queue as the HL7 adapter does (`legacyToo` as the adapter sets it, default: left out); answers the job */
  sendHl7(service: 'patient-service' | 'results-service', message: string, opts?: { messageId?: number; legacyToo?: boolean }): Promise<Hl7Job>;
  /** waits until every queue the services consume is empty and no job is being worked */
  drain(): Promise<void>;
  /** restarts a service with another system of record (same database); results-service follows patient-service's new address */
  restart(which: 'patients' | 'results', systemOfRecord: SystemOfRecord): Promise<void>;
  close(): Promise<void>;
}

export interface SceneOptions {
  prefix: string;
  /** a Redis database of its own, 1–15, distinct for every test file */
  redisDb: number;
  /** a Redis of the file's own instead (every database of the shared one is some other file's); `redisDb` is then its database */
  redisUrl?: string;
  patients?: number;
  seed?: number;
  systemOfRecord?: SystemOfRecord;
  hl7Inbound?: boolean;
  /** the services' logger (default: silent) */
  log?: Logger;
  /** the outbox seams the services hand their own changes to (default: none) */
  outbox?: { patients?: OutboxSeam; results?: OutboxSeam };
  /** SERVICE_HL7_WAIT_FOR_KEYS_MS (default 0: a message naming an unknown patient is a dead letter at once) */
  waitForKeysMs?: number;
  /** RESULTS_SERVICE_PROVISIONAL_CHECK_MS (default: the service's) */
  provisionalCheckMs?: number;
  /**
   * the services follow the rules of this store (`*_SYSTEM_OF_RECORD=rules`, as shipped) instead
   * of `systemOfRecord`, checking it every `checkMs` besides the change notifications on the
   * scene's Redis (a long `checkMs` makes a commit to the store that is not announced one the
   * services have not seen yet); `restart` still gives a fixed regime
   */
  rules?: { storeUrl: string; stateDir: string; checkMs: number };
  /** the rule store whose tokens and audit log the services' /api/services/<service>/* routes use (FICUS_STORE_URL; `rules` sets it too) */
  storeUrl?: string;
}

let messageIds = 1;

export async function startServiceScene(o: SceneOptions): Promise<ServiceScene> {
  const serverUrl = inject('databaseUrl');
  const redisUrl = `${o.redisUrl ?? inject('redisUrl')}/${o.redisDb}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  await redis.flushdb();
  const legacy = await startHarness(`${o.prefix}_legacy`, { patients: o.patients ?? 200, seed: o.seed ?? 20_240_701 });
  const inbound = o.hl7Inbound ? await startHl7Inbound({ pool: legacy.pool, port: 0 }) : undefined;
  const dbs: TestDatabase[] = [await createTestDatabase(serverUrl, `${o.prefix}_patients`), await createTestDatabase(serverUrl, `${o.prefix}_results`)];
  const log = o.log ?? createLogger('service-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const common = { DATABASE_URL: serverUrl, REDIS_URL: redisUrl, SERVICE_SHUTDOWN_TIMEOUT_MS: '3000', SERVICE_HL7_WAIT_FOR_KEYS_MS: String(o.waitForKeysMs ?? 0), ...(o.storeUrl ? { FICUS_STORE_URL: o.storeUrl } : {}) };
  const regime: SystemOfRecord | 'rules' = o.rules ? 'rules' : (o.systemOfRecord ?? 'legacy');
  const rules = o.rules ? { FICUS_STORE_URL: o.rules.storeUrl, FICUS_STATE_DIR: o.rules.stateDir, FICUS_RULES_CHECK_MS: String(o.rules.checkMs) } : {};
  const startPatients = (r: SystemOfRecord | 'rules') =>
    startPatientService(
      loadPatientServiceConfig({ ...common, ...rules, PATIENT_SERVICE_HOST: '127.0.0.1', PATIENT_SERVICE_PORT: '0', PATIENT_SERVICE_DATABASE_URL: dbs[0]!.url, PATIENT_SERVICE_SYSTEM_OF_RECORD: r }),
      log,
      { retry: FAST_RETRY, outbox: o.outbox?.patients },
    );
  const provisionalCheck = o.provisionalCheckMs === undefined ? {} : { RESULTS_SERVICE_PROVISIONAL_CHECK_MS: String(o.provisionalCheckMs) };
  const startResults = (r: SystemOfRecord | 'rules', patientUrl: string) =>
    startResultsService(
      loadResultsServiceConfig({ ...common, ...rules, ...provisionalCheck, RESULTS_SERVICE_HOST: '127.0.0.1', RESULTS_SERVICE_PORT: '0', RESULTS_SERVICE_DATABASE_URL: dbs[1]!.url, RESULTS_SERVICE_SYSTEM_OF_RECORD: r, PATIENT_SERVICE_URL: patientUrl }),
      log,
      { retry: FAST_RETRY, outbox: o.outbox?.results },
    );
  let patients = await startPatients(regime);
  let resultsRegime = regime;
  let results = await startResults(regime, patients.url);
  const cdc = new LegacyCdc(legacy.pool, redis);
  const hl7Queues = new Map<string, Queue<Hl7Job>>();

  const scene: ServiceScene = {
    legacy,
    inbound,
    get patients() {
      return patients;
    },
    get results() {
      return results;
    },
    cdc,
    redis,
    redisUrl,
    async sendHl7(service, message, opts = {}) {
      const decoded = decodeMessage(Buffer.from(message, 'utf8'));
      if (!decoded.ok) throw new Error(`the test message does not decode: ${decoded.error.message}`);
      const h = decoded.message.header;
      const pid = decoded.message.patientId;
      const key = pid ? `${pid.id}^${pid.assigningAuthority.namespaceId}` : `${h.sendingFacility.namespaceId}|${h.controlId}`;
      const name = hl7QueueName(service, partitionOf(key, 8));
      let queue = hl7Queues.get(name);
      if (!queue) {
        queue = new Queue<Hl7Job>(name, { connection: redis });
        hl7Queues.set(name, queue);
      }
      const job: Hl7Job = {
        messageId: opts.messageId ?? messageIds++,
        controlId: h.controlId,
        sendingFacility: h.sendingFacility.namespaceId,
        messageType: h.messageType,
        triggerEvent: h.triggerEvent,
        raw: Buffer.from(message, 'utf8').toString('latin1'),
        replay: false,
        ...(opts.legacyToo === undefined ? {} : { legacyToo: opts.legacyToo }),
      };
      await queue.add(`${h.messageType}^${h.triggerEvent}`, job);
      return job;
    },
    async drain() {
      const end = Date.now() + 30_000;
      for (;;) {
        const keys = await redis.keys('bull:*:meta');
        let busy = 0;
        for (const k of keys) {
          const name = k.slice(5, -5);
          if (name.endsWith('.dead')) continue;
          busy += (await redis.llen(`bull:${name}:wait`)) + (await redis.llen(`bull:${name}:active`)) + (await redis.zcard(`bull:${name}:prioritized`));
        }
        if (busy === 0) return;
        if (Date.now() > end) throw new Error(`the services' queues did not drain (${busy} jobs left)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restart(which, r) {
      if (which === 'patients') {
        await patients.close();
        patients = await startPatients(r);
        await results.close();
        results = await startResults(resultsRegime, patients.url);
      } else {
        resultsRegime = r;
        await results.close();
        results = await startResults(r, patients.url);
      }
    },
    async close() {
      await Promise.all([...hl7Queues.values()].map((q) => q.close()));
      await cdc.close();
      await results.close();
      await patients.close();
      await inbound?.close();
      await legacy.close();
      await Promise.all(dbs.map((d) => d.drop()));
      redis.disconnect();
    },
  };
  return scene;
}

/** HL7's YYYYMMDDHHMMSS for a moment (local time): messages carry the sender's clock in MSH-7 */
export function hl7Time(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: string;
}

const HEADERS_THAT_MATTER = ['content-type', 'etag', 'location'];

/** One request as a client sees it: status, the headers that matter, the body's exact text. */
export async function ask(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(base + path, init);
  const body = await res.text();
  return { status: res.status, headers: Object.fromEntries(HEADERS_THAT_MATTER.map((h) => [h, res.headers.get(h)])), body };
}

/** Every dead letter in the scene's Redis database: queue, reason, and the job's data. */
export async function deadLetters(redis: Redis): Promise<{ queue: string; error: string; data: unknown }[]> {
  const names = (await redis.keys('bull:*.dead:meta')).map((k) => k.slice(5, -5));
  const found: { queue: string; error: string; data: unknown }[] = [];
  for (const name of names) {
    const q = new Queue<{ queue: string; error: string; data: unknown }>(name, { connection: redis });
    for (const j of await q.getJobs(['waiting'])) found.push({ queue: j.data.queue, error: j.data.error, data: j.data.data });
    await q.close();
  }
  return found;
}
