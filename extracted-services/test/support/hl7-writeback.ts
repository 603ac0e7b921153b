/**
 * The scene of the HL7 write-back tests (hl7-new-writeback.test.ts for mode `new`,
 * hl7-dual-no-writeback.test.ts for `dual`): both services with their outbox and relay, the CDC
 * deployable's legacy writer (writeback-scene.ts) and the legacy's own HL7 inbound; and what those
 * tests read of it, over whichever scene the file has started (`current`).
 */
import { Queue } from 'bullmq';
import type pg from 'pg';
import { expect } from 'vitest';
import { hl7QueueName, type Hl7Job } from '@ficus/contracts';
import { MllpClient } from '../../../examples/legacy-his/test/support/mllp-client.js';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from '../../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { ask, type ServiceScene } from '../../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './writeback-scene.js';

export interface Hl7WritebackScene {
  wb: WritebackScene;
  scene: ServiceScene;
  /** the first five of the legacy's seeded patients, by MRN */
  seeded: string[];
}

export async function startHl7WritebackScene(o: { prefix: string; redis: { db: number } | 'own' }): Promise<Hl7WritebackScene> {
  // the scene's services hold the record from the environment: `legacy`, as with patients-write in mode legacy
  const wb = await startWritebackScene({ prefix: o.prefix, redis: o.redis, services: ['patient-service', 'results-service'], patients: 20, seed: 7_400, hl7Inbound: true });
  try {
    const { rows } = await wb.scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 5');
    return { wb, scene: wb.scene, seeded: rows.map((r) => r.pat_mrn) };
  } catch (e) {
    await wb.close();
    throw e;
  }
}

export const controlIdOf = (message: string) => message.split('\r')[0]!.split('|')[9]!;

export const outboxRows = async (pool: pg.Pool, topic: string, mrn: string) =>
  Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM ficus_outbox WHERE topic = $1 AND after->>'mrn' = $2", [topic, mrn])).rows[0]!.n);

export function hl7WritebackReads(current: () => ServiceScene) {
  const legacyJson = async (path: string) => {
    const a = await ask(current().legacy.base, path);
    return a.status === 200 ? (JSON.parse(a.body) as unknown) : a.status;
  };
  const serviceJson = async (path: string) => {
    const a = await ask(current().patients.url, path);
    return a.status === 200 ? (JSON.parse(a.body) as unknown) : a.status;
  };
  const legacyCount = async (sql: string, value: string) => Number((await current().legacy.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, [value])).rows[0]!.n);

  /** everything the services handed to their outboxes is published and written to the legacy */
  async function settled(): Promise<void> {
    const scene = current();
    for (const pool of [scene.patients.pool, scene.results.pool]) {
      await expect.poll(async () => (await pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
    }
    await scene.drain();
  }

  /** a topic's feed has taken what the stand-in CDC published (the write-back queue may be held, so not scene.drain()) */
  async function feedTaken(topic: string): Promise<void> {
    const { redis } = current();
    const busy = async () => {
      let n = 0;
      for (const k of await redis.keys(`bull:cdc.${topic}.*:meta`)) {
        const queue = k.slice(0, -'meta'.length);
        n += (await redis.llen(`${queue}wait`)) + (await redis.llen(`${queue}active`)) + (await redis.zcard(`${queue}prioritized`));
      }
      return n;
    };
    await expect.poll(busy, { timeout: 10_000 }).toBe(0);
  }

  /** sends a message through the real HL7 adapter (every HL7 rule in `mode`), in front of the scene's legacy inbound and services */
  async function throughAdapter(mode: 'dual' | 'new', message: string): Promise<void> {
    const scene = current();
    let adapter: AdapterUnderTest | undefined;
    let client: MllpClient | undefined;
    try {
      adapter = await startAdapterUnderTest({ files: hl7Rules(`mllp://127.0.0.1:${scene.inbound!.port}`, mode), env: { REDIS_URL: scene.redisUrl, HL7_PARTITIONS: '8', HL7_QUEUE_PREFIX: 'bull' } });
      client = await MllpClient.connect(adapter.adapter.port);
      expect((await client.request(message)).code).toBe('AA');
    } finally {
      client?.close();
      await adapter?.close();
    }
  }

  /** the job the adapter queued for a message, found among patient-service's completed jobs */
  async function queuedJob(controlId: string): Promise<Hl7Job | undefined> {
    for (let p = 0; p < 8; p++) {
      const queue = new Queue<Hl7Job>(hl7QueueName('patient-service', p), { connection: current().redis });
      try {
        const job = (await queue.getJobs(['completed'])).find((j) => j.data.controlId === controlId);
        if (job) return job.data;
      } finally {
        await queue.close();
      }
    }
    return undefined;
  }

  return { legacyJson, serviceJson, legacyCount, settled, feedTaken, throughAdapter, queuedJob };
}
