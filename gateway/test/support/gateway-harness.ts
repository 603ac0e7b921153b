/**
 * Starts a real gateway (in this process, on a real port) over a folder of rule files that a
 * test writes, and stops it afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@ficus/contracts';
import { loadGatewayConfig } from '../../src/config.js';
import { startTestUpstream, type TestUpstream } from './test-upstream.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';

export interface GatewayUnderTest {
  url: string;
  gateway: RunningGateway;
  rulesDir: string;
  writeRules(file: string, yaml: string): void;
  close(): Promise<void>;
}

/** Upstreams without active health checks (one line each): a test's own upstreams answer what it says. */
export function quietUpstreamsYaml(upstreams: Record<string, string>): string {
  return 'upstreams:\n' + Object.entries(upstreams).map(([name, url]) => `  ${name}: { url: "${url}", healthCheck: { enabled: false } }\n`).join('');
}

/** The rule files of a scene where everything goes to legacy (legacy and new-svc declared). */
export const legacyDefaultOnly = (u: { legacy: string; fresh: string }): Record<string, string> => ({
  'u.yaml': quietUpstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }),
  'r.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
});

export function upstreamsYaml(upstreams: Record<string, string>, extra = ''): string {
  return (
    'upstreams:\n' +
    Object.entries(upstreams)
      .map(
        ([name, url]) =>
          `  ${name}:\n    url: ${url}\n    timeouts: { connectMs: 500, responseHeadersMs: 2000, bodyIdleMs: 5000 }\n` +
          `    healthCheck: { intervalMs: 200, timeoutMs: 300, unhealthyAfter: 1, healthyAfter: 1 }\n` +
          `    circuitBreaker: { failureThreshold: 3, openMs: 500 }\n${extra}`,
      )
      .join('')
  );
}

/** The repository's own rule files (routing-rules/), as shipped. */
export const SHIPPED_RULES_DIR = path.resolve(import.meta.dirname, '../../../routing-rules');

/**
 * Starts a gateway over rule files written for the test, or over an existing rule folder
 * (`{ dir }`, which is not deleted afterwards). `upstreamEnv` overrides upstream URLs the way
 * FICUS_UPSTREAM_<NAME>_URL does in production.
 */
export async function startGatewayUnderTest(
  files: Record<string, string> | { dir: string },
  env: Record<string, string> = {},
  upstreamEnv: Record<string, string> = {},
): Promise<GatewayUnderTest> {
  const own = !('dir' in files);
  const rulesDir = own ? mkdtempSync(path.join(tmpdir(), 'ficus-rules-')) : (files.dir as string);
  const write = (file: string, yaml: string) => writeFileSync(path.join(rulesDir, file), yaml);
  if (own) for (const [file, yaml] of Object.entries(files as Record<string, string>)) write(file, yaml);
  const config = loadGatewayConfig({
    FICUS_GATEWAY_HOST: '127.0.0.1',
    FICUS_GATEWAY_PORT: '0',
    FICUS_RULES_DIR: rulesDir,
    FICUS_RULES_POLL_MS: '200',
    FICUS_ACCESS_LOG: 'off',
    // components a test does not start are away (port 9 never accepts), not whatever runs on their default ports (a demo)
    FICUS_HL7_API_URL: 'http://127.0.0.1:9',
    FICUS_CDC_API_URL: 'http://127.0.0.1:9',
    FICUS_PATIENT_SERVICE_API_URL: 'http://127.0.0.1:9',
    FICUS_RESULTS_SERVICE_API_URL: 'http://127.0.0.1:9',
    ...env,
  });
  const log = createLogger('gateway-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gateway = await startGateway(config, log, upstreamEnv).catch((e: unknown) => {
    if (own) rmSync(rulesDir, { recursive: true, force: true });
    throw e;
  });
  return {
    url: `http://127.0.0.1:${gateway.port}`,
    gateway,
    rulesDir,
    writeRules: write,
    async close() {
      await gateway.close();
      if (own) rmSync(rulesDir, { recursive: true, force: true });
    },
  };
}

export interface TwoUpstreams {
  legacy: TestUpstream;
  fresh: TestUpstream;
  gw: GatewayUnderTest;
  close(): Promise<void>;
}

/**
 * The usual scene of a gateway test: a legacy upstream answering "legacy", a new service
 * answering "new", and a gateway over the rule files `files` writes for their URLs.
 */
export async function startLegacyAndNew(files: (urls: { legacy: string; fresh: string }) => Record<string, string>): Promise<TwoUpstreams> {
  const legacy = await startTestUpstream('legacy');
  const fresh = await startTestUpstream('new');
  const gw = await startGatewayUnderTest(files({ legacy: legacy.url, fresh: fresh.url }));
  return {
    legacy,
    fresh,
    gw,
    async close() {
      await gw.close();
      await legacy.close();
      await fresh.close();
    },
  };
}
