/**
 * `ficus conflicts list` shows, per service and topic, how many conflicts wait and when the
 * oldest of them was recorded (the answer's unresolved[].oldest): a count alone does not say
 * whether anyone reviews them. The services are small Fastify apps answering the conflicts
 * route as a service does, behind a real gateway that passes /api/services/<service>/* through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServiceConflicts } from '@ficus/contracts/api';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { seedRules, startStoreGateway, type StoreGateway } from '../../gateway/test/support/store-gateway.js';
import { ficusRunner, type Ficus, type Run } from './support/cli-scene.js';

let store: TestDatabase;
const services: FastifyInstance[] = [];
let gw: StoreGateway;
let home: string;
let ficus: Ficus;
const runs: Run[] = [];

async function serviceWith(service: string, unresolved: ServiceConflicts['unresolved']): Promise<string> {
  const app = Fastify();
  app.get(`/api/services/${service}/conflicts`, async (): Promise<ServiceConflicts> => ({ service, unresolved, conflicts: [], nextCursor: null }));
  services.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

beforeAll(async () => {
  const patients = await serviceWith('patient-service', [
    { topic: 'admissions', count: 2, oldest: '2026-12-07T18:04:05.123Z' },
    { topic: 'patients', count: 5, oldest: '2026-12-06T09:00:00.000Z' },
  ]);
  const results = await serviceWith('results-service', [{ topic: 'lab-results', count: 1, oldest: '2026-12-07T21:30:00.000Z' }]);
  store = await createTestDatabase(inject('databaseUrl'), 'cli_conflicts_oldest');
  gw = await startStoreGateway({ storeUrl: store.url, files: seedRules(patients, results), env: { FICUS_PATIENT_SERVICE_API_URL: patients, FICUS_RESULTS_SERVICE_API_URL: results } });
  home = mkdtempSync(path.join(tmpdir(), 'ficus-conflicts-oldest-'));
  ficus = ficusRunner(gw.adminUrl, home, runs);
});
afterAll(async () => {
  await gw?.close();
  for (const s of services) await s.close();
  await store?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('ficus conflicts list', () => {
  it('shows when the oldest unresolved conflict of each topic was recorded, beside the count', async () => {
    const listed = await ficus(['conflicts', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      /^SERVICE\s+TOPIC\s+UNRESOLVED\s+OLDEST\npatient-service\s+admissions\s+2\s+2026-12-07T18:04:05\.123Z\npatient-service\s+patients\s+5\s+2026-12-06T09:00:00\.000Z\nresults-service\s+lab-results\s+1\s+2026-12-07T21:30:00\.000Z\n/,
    );
  });
});
