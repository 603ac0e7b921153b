/**
 * A real HL7 adapter (in this process) on fresh databases of the test server and the test
 * Redis, over rule files the test writes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import pg from 'pg';
import { createLogger, TokenStore, type Logger } from '@ficus/contracts';
import { createTestDatabase, type TestDatabase } from '../../../../test-support/databases.js';
import { startAdapter, type RunningAdapter } from '../../src/adapter.js';
import { loadAdapterConfig } from '../../src/config.js';

/** an admin token the harness stores in the adapter's rule store (the API checks the same tokens as the gateway's) */
export const TEST_TOKEN = 'ficus_test-hl7-admin-token-0123456789abcdefghijklmnop';

export interface AdapterUnderTest {
  adapter: RunningAdapter;
  messageDb: TestDatabase;
  ruleDb: TestDatabase;
  apiUrl: string;
  /** the rule folder the adapter reads (a test may rewrite its files) */
  rulesDir: string;
  /** the BullMQ key prefix of this adapter's queues (each test adapter has its own on the shared Redis) */
  queuePrefix: string;
  /** closes the adapter (once), as a SIGTERM does; the databases stay for what the test checks */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export function hl7Rules(legacyInbound: string, mode: 'legacy' | 'dual' | 'new' = 'dual'): Record<string, string> {
  return {
    '00-upstreams.yaml': `upstreams:
  legacy: { url: "http://127.0.0.1:9" }
  legacy-hl7: { url: "${legacyInbound}" }
  patient-service: { url: "http://127.0.0.1:9" }
  results-service: { url: "http://127.0.0.1:9" }
`,
    '10-http.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
    '20-hl7.yaml': `hl7:
  - id: adt
    match: { messageTypes: [ADT] }
    mode: ${mode}
    target: patient-service
  - id: results
    match: { messageTypes: [ORU, OUL] }
    mode: ${mode}
    target: results-service
  - id: hl7-default
    match: {}
    mode: legacy
`,
  };
}

export async function startAdapterUnderTest(opts: {
  files: Record<string, string>;
  env?: Record<string, string>;
  /** a rule store shared with a gateway (its admin API): not made, not dropped */
  ruleStoreUrl?: string;
  /** where the adapter logs (default: stdout, silent unless TEST_LOG_LEVEL) */
  log?: Logger;
}): Promise<AdapterUnderTest> {
  const serverUrl = inject('databaseUrl');
  const messageDb = await createTestDatabase(serverUrl, 'hl7_messages');
  const ruleDb: TestDatabase = opts.ruleStoreUrl ? { url: opts.ruleStoreUrl, name: '', drop: async () => undefined } : await createTestDatabase(serverUrl, 'hl7_rules');
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-hl7-'));
  const queuePrefix = `test-${randomBytes(4).toString('hex')}`;
  for (const [f, text] of Object.entries(opts.files)) writeFileSync(path.join(dir, f), text);
  const config = loadAdapterConfig({
    HL7_HOST: '127.0.0.1',
    HL7_PORT: '0',
    HL7_API_HOST: '127.0.0.1',
    HL7_API_PORT: '0',
    DATABASE_URL: serverUrl,
    HL7_DATABASE_URL: messageDb.url,
    FICUS_STORE_URL: ruleDb.url,
    REDIS_URL: inject('redisUrl'),
    FICUS_RULES_SOURCE: 'files',
    FICUS_RULES_DIR: dir,
    FICUS_STATE_DIR: path.join(dir, 'state'),
    HL7_DISPATCH_POLL_MS: '100',
    HL7_LEGACY_ACK_TIMEOUT_MS: '2000',
    HL7_MAX_BACKOFF_MS: '500',
    HL7_QUEUE_PREFIX: queuePrefix,
    ...opts.env,
  });
  const adapter = await startAdapter(config, opts.log ?? createLogger('hl7-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' }), {});
  const tokens = new pg.Pool({ connectionString: ruleDb.url, max: 1 });
  await new TokenStore(tokens).create('hl7-test', 'admin', 'test', TEST_TOKEN);
  await tokens.end();
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= adapter.close());
  return {
    adapter,
    messageDb,
    ruleDb,
    apiUrl: `http://127.0.0.1:${adapter.apiPort}`,
    rulesDir: dir,
    queuePrefix,
    stop,
    async close() {
      await stop();
      await messageDb.drop();
      await ruleDb.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A call to the adapter's API with the test token. */
export async function api<T = Record<string, unknown>>(apiUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(apiUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls until `check` returns something other than undefined (or fails after `ms`). */
export async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
