/**
 * `ficus conflicts` against a service still on a Ficus version without conflict review, behind
 * a gateway that passes /api/services/<service>/* to it: the service answers its own plain 404
 * (Fastify's, no problem body), which the CLI says as "does not offer conflict review (too
 * old)", not as a refusal or a wrong admin URL; `list` of both shows them unavailable (exit 4).
 * The old service is a Fastify app with one legacy-contract route, as the services are.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { seedRules, startStoreGateway, type StoreGateway } from '../../gateway/test/support/store-gateway.js';
import { ficusRunner, type Ficus, type Run } from './support/cli-scene.js';

let store: TestDatabase;
let old: FastifyInstance;
let gw: StoreGateway;
let home: string;
let ficus: Ficus;
const runs: Run[] = [];

beforeAll(async () => {
  old = Fastify();
  old.get('/api/patients/:mrn', async () => ({ mrn: '1' }));
  const oldUrl = await old.listen({ host: '127.0.0.1', port: 0 });
  store = await createTestDatabase(inject('databaseUrl'), 'cli_conflicts_old');
  gw = await startStoreGateway({ storeUrl: store.url, files: seedRules(oldUrl, oldUrl), env: { FICUS_PATIENT_SERVICE_API_URL: oldUrl, FICUS_RESULTS_SERVICE_API_URL: oldUrl } });
  home = mkdtempSync(path.join(tmpdir(), 'ficus-conflicts-old-'));
  ficus = ficusRunner(gw.adminUrl, home, runs);
});
afterAll(async () => {
  await gw?.close();
  await old?.close();
  await store?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const TOO_OLD = /patient-service does not offer conflict review: it answered GET \/api\/services\/patient-service\/conflicts\S* with a plain HTTP 404, as a service older than conflict review does; upgrade it/;

describe('ficus conflicts against a service older than conflict review', () => {
  it('says the service does not offer conflict review, for one service (exit 1) and among both (unavailable, exit 4)', async () => {
    const one = await ficus(['conflicts', 'list', '--service', 'patient-service']);
    expect(one.code, one.stderr).toBe(1);
    expect(one.stderr).toMatch(TOO_OLD);
    expect(one.stderr).not.toMatch(/not the Ficus admin API|refused \(404\)/);

    const both = await ficus(['conflicts', 'list']);
    expect(both.code, both.stderr).toBe(4);
    expect(both.stdout).toMatch(/^patient-service\s+\*\s+unavailable \(does not offer conflict review: too old\)$/m);
    expect(both.stdout).toMatch(/^results-service\s+\*\s+unavailable \(does not offer conflict review: too old\)$/m);
    expect(both.stderr).toMatch(TOO_OLD);

    const show = await ficus(['conflicts', 'show', 'patient-service', '42']);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/patient-service does not offer conflict review: it answered GET \/api\/services\/patient-service\/conflicts\/42 with a plain HTTP 404/);
  });
});
