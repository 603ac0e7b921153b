/**
 * A service scene with the CDC deployable's legacy writer on its legacy database (the shipped
 * mapping), so that what the services apply from HL7 in mode `new` reaches the legacy by
 * write-back as deployed. The writer can be held (`stopWriter`) and let go (`startWriter`) to
 * make a write-back land after something else. With `ownRedis` the scene runs on a Redis of the
 * file's own: every database of the shared one is some other file's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect } from 'vitest';
import { createLogger, keyText } from '@ficus/contracts';
import { loadMapping } from '../../../legacy-adapters/cdc/src/mapping/mapping-file.js';
import { checkMapping } from '../../../legacy-adapters/cdc/src/postgres/preflight.js';
import { SESSION_OPTIONS } from '../../../legacy-adapters/cdc/src/postgres/values.js';
import { LegacyWriter, migrateWriteback } from '../../../legacy-adapters/cdc/src/writeback/legacy-writer.js';
import type { RecordHolders } from '../../../legacy-adapters/cdc/src/writeback/record-holder.js';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { FAST_RETRY, startServiceScene, type SceneOptions, type ServiceScene } from '../../../test-support/service-scene.js';

const MAPPING = fileURLToPath(new URL('../../../routing-rules/cdc/legacy-his.yaml', import.meta.url));

export interface WritebackScene {
  scene: ServiceScene;
  /** holds the write-back queue: what the services hand over waits until startWriter */
  stopWriter(): Promise<void>;
  startWriter(): Promise<void>;
  close(): Promise<void>;
}

export interface WritebackSceneOptions extends Omit<SceneOptions, 'redisDb' | 'redisUrl'> {
  /** the services whose write-backs the writer takes */
  services: string[];
  /** a database of the shared Redis (1–15, distinct for every file), or the file's own Redis */
  redis: { db: number } | 'own';
  /**
   * who the writer finds holds each service's record (CDC_WRITEBACK_RECORD_RULES); by default
   * the scene's services' own regime, as `patient-service=legacy` or `=service` where fixed
   */
  recordHolders?: RecordHolders;
}

/** Starts the scene, takes the legacy's snapshot through the stand-in CDC, and starts the writer. */
export async function startWritebackScene(o: WritebackSceneOptions): Promise<WritebackScene> {
  const log = createLogger(`${o.prefix}-writer`, { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let redisDir: string | undefined;
  let ownRedis: PrivateRedis | undefined;
  let scene: ServiceScene | undefined;
  let pool: pg.Pool | undefined;
  let writer: LegacyWriter | undefined;
  const close = async () => {
    await writer?.close();
    await pool?.end();
    await scene?.close();
    await ownRedis?.stop();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  };
  try {
    if (o.redis === 'own') {
      redisDir = mkdtempSync(path.join(tmpdir(), `ficus-${o.prefix}-`));
      ownRedis = await startPrivateRedis(redisDir, () => undefined);
    }
    const { services, redis, recordHolders, ...sceneOptions } = o;
    scene = await startServiceScene({ ...sceneOptions, redisDb: redis === 'own' ? 0 : redis.db, redisUrl: ownRedis?.url });
    await scene.cdc.snapshot();
    await scene.drain();
    await migrateWriteback(scene.legacy.db.url, log);
    pool = new pg.Pool({ connectionString: scene.legacy.db.url, max: 4, application_name: 'ficus-legacy-writer', options: SESSION_OPTIONS } as pg.PoolConfig);
    pool.on('error', () => undefined);
    const tables = await checkMapping(pool, await loadMapping(MAPPING));
    const holders: RecordHolders = recordHolders ?? { of: async (s) => (s === 'results-service' ? scene!.results : scene!.patients).systemOfRecord.current() };
    const startWriter = async () => {
      const w = new LegacyWriter({ connection: scene!.redis, pool: pool!, tables, services, partitions: 8, fkWaitMs: 15_000, retry: FAST_RETRY, recordHolders: holders, log, outcome: () => undefined });
      await w.start();
      writer = w;
    };
    await startWriter();
    return {
      scene,
      startWriter,
      async stopWriter() {
        await writer?.close();
        writer = undefined;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * What the legacy committed since the scene's last CDC sync of `topic` (`origin`: only what the
 * legacy writer wrote, tagged as CDC_WRITEBACK_ECHO=tag does) reaches the service whose database
 * is `pool` and is applied: each change's position taken there.
 */
export async function syncedInto(scene: ServiceScene, topic: string, pool: pg.Pool, o: { origin?: string } = {}): Promise<void> {
  const events = await scene.cdc.sync([topic], o);
  const taken = async () => {
    const { rows } = await pool.query<{ key: string; position: string }>('SELECT key, position FROM ficus_change_positions WHERE topic = $1 AND key = ANY($2::text[])', [
      topic,
      events.map((e) => keyText(e.key)),
    ]);
    const at = new Map(rows.map((r) => [r.key, r.position]));
    return events.every((e) => at.get(keyText(e.key)) === e.source.position);
  };
  await expect.poll(taken, { timeout: 10_000 }).toBe(true);
}
