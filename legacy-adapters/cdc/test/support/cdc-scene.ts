/**
 * What the CDC tests run: a migrated legacy database of their own (optionally seeded), a CDC
 * state database, a rule store (tokens for /api/cdc/status), a target database standing in
 * for a new service, and the CDC deployable as a real child process (`main.ts` under tsx, as
 * `npm start` runs it), which a test can stop, kill -9 and start again.
 *
 * Isolation on the shared test server and Redis: every scene has its own slot, publication and
 * topic names (the shipped mapping's topics with a suffix), and its own write-back service name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { parse, stringify } from 'yaml';
import { createLogger, openStore, withDatabase } from '@ficus/contracts';
import { migrateLegacy, seedLegacy } from '@ficus/legacy-his';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/databases.js';
import type { MirroredTopic } from '../../../../test-support/cdc-target.js';
import { freePort } from '../../../../scripts/lib/local-services.js';

export const ROOT = path.resolve(import.meta.dirname, '../../../..');
export const SHIPPED_MAPPING = path.join(ROOT, 'routing-rules/cdc/legacy-his.yaml');
export const VIEWER_TOKEN = 'ficus_cdc-test-viewer-token-0123456789abcdef';
export const OPERATOR_TOKEN = 'ficus_cdc-test-operator-token-0123456789abcdef';

export interface MappingTopicYaml {
  topic: string;
  table: string;
  key: string[];
  fields: Record<string, string>;
  ignore?: string[];
  onNewColumn?: string;
}

export interface CdcProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM and wait */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown at all */
  kill9(): Promise<void>;
}

export interface Scene {
  id: string;
  legacy: TestDatabase;
  legacyPool: pg.Pool;
  state: TestDatabase;
  store: TestDatabase;
  redis: Redis;
  slot: string;
  /** the scene's topic name for a shipped topic (`patients` → `patients-<id>`) */
  topic(name: string): string;
  topics: MirroredTopic[];
  mappingFile: string;
  service: string;
  env: Record<string, string>;
  start(extraEnv?: Record<string, string>, opts?: { waitReady?: boolean }): Promise<CdcProcess>;
  close(): Promise<void>;
}

export interface SceneOptions {
  name: string;
  seedPatients?: number;
  /** changes the mapping's topics (after the suffix is added) */
  mapping?: (topics: MappingTopicYaml[]) => MappingTopicYaml[];
  /** SQL run on the legacy database after the migrations (test tables) */
  legacySql?: string;
  /** a PostgreSQL server of the test's own (one whose settings it changes), instead of the run's */
  server?: string;
}

export async function startScene(o: SceneOptions): Promise<Scene> {
  const id = randomBytes(3).toString('hex');
  const server = o.server ?? inject('databaseUrl');
  const legacy = await createTestDatabase(server, `cdc_${o.name}_legacy`);
  const state = await createTestDatabase(server, `cdc_${o.name}_state`);
  const store = await createTestDatabase(server, `cdc_${o.name}_store`);
  await migrateLegacy(legacy.url);
  const legacyPool = new pg.Pool({ connectionString: legacy.url, max: 10 });
  legacyPool.on('error', () => undefined); // idle clients cut when the database is dropped (FORCE)
  if (o.legacySql) await legacyPool.query(o.legacySql);
  if (o.seedPatients) await seedLegacy(legacyPool, { patients: o.seedPatients, seed: 7 });
  // the tokens the API tests use, in the scene's rule store
  const log = createLogger('cdc-scene', { level: 'silent' });
  const control = await openStore({ url: store.url, rulesDir: path.join(ROOT, 'routing-rules'), stateDir: path.join(tmpdir(), `cdc-scene-${id}`), adminToken: undefined, bootstrapToken: false, log });
  await control.tokens.create('cdc-test-viewer', 'viewer', 'test', VIEWER_TOKEN);
  await control.tokens.create('cdc-test-operator', 'operator', 'test', OPERATOR_TOKEN);
  await control.close();

  const shipped = parse(readFileSync(SHIPPED_MAPPING, 'utf8')) as { version: number; cdc: { topics: MappingTopicYaml[]; [k: string]: unknown } };
  let topics = shipped.cdc.topics.map((t) => ({ ...t, topic: `${t.topic}-${id}` }));
  if (o.mapping) topics = o.mapping(topics);
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-test-'));
  const mappingFile = path.join(dir, 'mapping.yaml');
  writeFileSync(mappingFile, stringify({ version: 1, cdc: { ...shipped.cdc, topics } }));
  const slot = `ficus_cdc_${legacy.name}`;
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const service = `svc-${id}`;
  const env: Record<string, string> = {
    CDC_API_HOST: '127.0.0.1',
    CDC_MAPPING_FILE: mappingFile,
    CDC_LEGACY_DATABASE_URL: legacy.url,
    CDC_STATE_DATABASE_URL: state.url,
    FICUS_STORE_URL: store.url,
    DATABASE_URL: withDatabase(server, 'postgres'),
    REDIS_URL: inject('redisUrl'),
    CDC_SLOT: slot,
    CDC_PUBLICATION: slot,
    CDC_WRITEBACK_SERVICES: service,
    FICUS_STATE_DIR: path.join(dir, 'state'),
    LOG_LEVEL: 'info',
  };
  const procs: CdcProcess[] = [];

  const start = async (extraEnv: Record<string, string> = {}, opts: { waitReady?: boolean } = {}): Promise<CdcProcess> => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', path.join(ROOT, 'legacy-adapters/cdc/src/main.ts')], {
      env: { ...process.env, ...env, CDC_API_PORT: String(port), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const p: CdcProcess = {
      child,
      url,
      output: () => output,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
      async kill9() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    procs.push(p);
    if (opts.waitReady !== false) {
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`the CDC process exited with ${child.exitCode}:\n${output}`);
        try {
          const res = await fetch(`${url}/readyz`);
          await res.arrayBuffer();
          if (res.ok) break;
        } catch {
          /* not listening yet */
        }
        if (i > 1200) throw new Error(`the CDC process did not become ready:\n${output}`);
        await sleep(50);
      }
    }
    return p;
  };

  return {
    id,
    legacy,
    legacyPool,
    state,
    store,
    redis,
    slot,
    topic: (name) => `${name}-${id}`,
    topics: topics.map((t) => ({ topic: t.topic, legacyTable: t.table, fields: Object.entries(t.fields), key: t.key })),
    mappingFile,
    service,
    env,
    start,
    async close() {
      for (const p of procs) await p.kill9();
      redis.disconnect();
      await legacyPool.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()').catch(() => undefined);
      await legacyPool.end();
      await legacy.drop();
      await state.drop();
      await store.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { until } from '../../../../test-support/until.js';
