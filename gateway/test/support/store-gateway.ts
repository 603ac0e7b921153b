/**
 * A gateway on a rule store (a fresh database of the test server), with its admin API, over
 * two test upstreams. Several can share one store, as gateway instances in a cluster do.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@ficus/contracts';
import { loadGatewayConfig } from '../../src/config.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createTestDatabase } from '../../../test-support/databases.js';
import { startTestUpstream } from './test-upstream.js';

export const ADMIN_TOKEN = 'ficus_test-admin-token-0123456789abcdefghijklmnopqrstuv';

export interface StoreGateway {
  url: string;
  adminUrl: string;
  gateway: RunningGateway;
  stateDir: string;
  close(): Promise<void>;
}

/** The rule files the store is seeded from: legacy and patient-service upstreams, three rules. */
export function seedRules(legacyUrl: string, newUrl: string): Record<string, string> {
  return {
    '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { intervalMs: 500, timeoutMs: 300 } }
  patient-service: { url: "${newUrl}", healthCheck: { intervalMs: 500, timeoutMs: 300 } }
`,
    '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
  };
}

export async function startStoreGateway(opts: {
  storeUrl: string;
  redisUrl?: string;
  files: Record<string, string>;
  env?: Record<string, string>;
  stateDir?: string;
  /** FICUS_UPSTREAM_<NAME>_URL, as in production: for upstreams whose address is known only once they listen */
  upstreamEnv?: Record<string, string>;
}): Promise<StoreGateway> {
  const rulesDir = mkdtempSync(path.join(tmpdir(), 'ficus-seed-'));
  for (const [f, yaml] of Object.entries(opts.files)) writeFileSync(path.join(rulesDir, f), yaml);
  const stateDir = opts.stateDir ?? mkdtempSync(path.join(tmpdir(), 'ficus-state-'));
  const config = loadGatewayConfig({
    FICUS_GATEWAY_HOST: '127.0.0.1',
    FICUS_GATEWAY_PORT: '0',
    FICUS_ADMIN_HOST: '127.0.0.1',
    FICUS_ADMIN_PORT: '0',
    FICUS_RULES_SOURCE: 'store',
    FICUS_STORE_URL: opts.storeUrl,
    FICUS_RULES_DIR: rulesDir,
    FICUS_STATE_DIR: stateDir,
    FICUS_RULES_CHECK_MS: '300',
    FICUS_ADMIN_TOKEN: ADMIN_TOKEN,
    FICUS_ACCESS_LOG: 'off',
    // components a test does not start are away (port 9 never accepts), not whatever runs on their default ports (a demo)
    FICUS_HL7_API_URL: 'http://127.0.0.1:9',
    FICUS_CDC_API_URL: 'http://127.0.0.1:9',
    FICUS_PATIENT_SERVICE_API_URL: 'http://127.0.0.1:9',
    FICUS_RESULTS_SERVICE_API_URL: 'http://127.0.0.1:9',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    ...opts.env,
  });
  const log = createLogger('gateway-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gateway = await startGateway(config, log, opts.upstreamEnv ?? {});
  return {
    url: `http://127.0.0.1:${gateway.port}`,
    adminUrl: `http://127.0.0.1:${gateway.adminPort}`,
    gateway,
    stateDir,
    async close() {
      await gateway.close();
      rmSync(rulesDir, { recursive: true, force: true });
      if (!opts.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A small client for the admin API, as a script would use it. */
export function adminClient(adminUrl: string, token: string | undefined = ADMIN_TOKEN) {
  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(adminUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), body: (text ? JSON.parse(text) : undefined) as T };
  };
  return {
    call,
    get: <T = Record<string, unknown>>(path: string) => call<T>('GET', path),
    post: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>('POST', path, body),
    put: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>('PUT', path, body),
    del: <T = Record<string, unknown>>(path: string) => call<T>('DELETE', path),
  };
}

export type AdminClient = ReturnType<typeof adminClient>;

/** A client of the admin API with a token of its own, of the role given, made by an admin. */
export async function roleClient(admin: AdminClient, adminUrl: string, name: string, role: 'viewer' | 'operator' | 'admin'): Promise<AdminClient> {
  const t = await admin.post<{ token: string }>('/api/tokens', { name, role, reason: 'test' });
  return adminClient(adminUrl, t.body.token);
}

export interface SeededScene {
  gw: StoreGateway;
  admin: AdminClient;
  close(): Promise<void>;
}

/**
 * The usual control-plane scene: a store database of its own (`name`), a legacy and a new test
 * upstream, and one gateway seeded with seedRules, its admin client holding the admin token.
 */
export async function startSeededScene(o: { databaseUrl: string; redisUrl: string; name: string; env?: Record<string, string> }): Promise<SeededScene> {
  const db = await createTestDatabase(o.databaseUrl, o.name);
  const legacy = await startTestUpstream('legacy');
  const fresh = await startTestUpstream('new');
  const gw = await startStoreGateway({ storeUrl: db.url, redisUrl: o.redisUrl, files: seedRules(legacy.url, fresh.url), ...(o.env ? { env: o.env } : {}) });
  return {
    gw,
    admin: adminClient(gw.adminUrl),
    async close() {
      await gw.close();
      await legacy.close();
      await fresh.close();
      await db.drop();
    },
  };
}
