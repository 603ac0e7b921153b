/**
 * The legacy API's answer while its database is away (a restart, a failover, connections
 * refused): 503 with Retry-After, in the legacy error body, nothing written, and answers again
 * once the database is back. patient-service and results-service answer through the same error
 * module. Until 2026-12-07 it was 500 "Internal error", which tells a client the request itself
 * failed, not that the same request may be sent again (a chaos probe of the demo saw it on
 * every PostgreSQL restart).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LegacyErrorBody, LegacyPatient } from '../src/index.js';
import { getJson, sqlValue, startHarness, type Harness } from '../../../test-support/legacy-his.js';

let his: Harness;
let admin: pg.Client;
beforeAll(async () => {
  his = await startHarness('legacy_outage', { patients: 5 });
  his.pool.on('error', () => undefined); // its idle connections are cut below, as a restart cuts them
  admin = new pg.Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
});
afterAll(async () => {
  await admin?.query(`ALTER DATABASE "${his.db.name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
  await admin?.end();
  await his?.close();
});

/** the database refuses new connections and drops the ones it has, as a server going down does */
async function databaseAway(): Promise<void> {
  await admin.query(`ALTER DATABASE "${his.db.name}" ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [his.db.name]);
}

describe('the database away', () => {
  it('answers 503 with Retry-After in the legacy error body, writes nothing, and answers again once it is back', async () => {
    const mrn = await sqlValue<string>(his.pool, 'SELECT PAT_MRN AS v FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 1');
    const before = (await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`)).body;
    await databaseAway();

    const read = await getJson<LegacyErrorBody>(`${his.base}/api/patients/${mrn}`);
    expect({ status: read.status, retryAfter: read.headers.get('retry-after'), body: read.body }).toEqual({
      status: 503,
      retryAfter: '5',
      body: { errorCode: 'PAT-503', errorMessage: 'Service temporarily unavailable; try again shortly' },
    });
    const write = await getJson<LegacyErrorBody>(`${his.base}/api/patients/${mrn}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...before, phone: '217-555-0142' }),
    });
    expect(write.status).toBe(503);
    expect((await getJson<LegacyErrorBody>(`${his.base}/api/results?mrn=${mrn}`)).body).toMatchObject({ errorCode: 'LAB-503' });

    await admin.query(`ALTER DATABASE "${his.db.name}" ALLOW_CONNECTIONS true`);
    const after = await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`);
    expect(after.status).toBe(200);
    expect(after.body.phone).toBe(before.phone);
  });
});
