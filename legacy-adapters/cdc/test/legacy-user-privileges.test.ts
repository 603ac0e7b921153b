/**
 * The CDC reader as the legacy database user a hospital's DBA would give it, step by step from
 * what deploy/README.md once asked (REPLICATION and SELECT): each refusal explained in words an
 * operator acts on (the grant, or the publication made by the tables' owner), and the grants
 * deploy/README.md lists now enough to start and stream.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '@ficus/contracts';
import { startScene, type Scene } from './support/cdc-scene.js';

let scene: Scene;
let admin: pg.Client;
const role = `cdc_user_${randomBytes(3).toString('hex')}`;
const tables = ['patient_master', 'ward', 'admission', 'lab_result', 'patient_merge'].map((t) => `public.${t}`).join(', ');

beforeAll(async () => {
  scene = await startScene({ name: 'privileges', seedPatients: 3 });
  admin = new pg.Client({ connectionString: scene.legacy.url });
  await admin.connect();
  // what the README asked before: REPLICATION, and read access to the legacy tables
  await admin.query(`CREATE ROLE ${role} LOGIN REPLICATION`);
  await admin.query(`GRANT CONNECT ON DATABASE ${scene.legacy.name} TO ${role}`);
  await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
});
afterAll(async () => {
  // the legacy database goes with the scene, and with it what the role owned and was granted there
  await admin?.end();
  await scene?.close();
  const server = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await server.connect();
  await server.query(`DROP ROLE IF EXISTS ${role}`);
  await server.end();
});

/** the legacy database as the restricted user (the test server trusts local connections) */
const asRole = () => {
  const u = new URL(scene.legacy.url);
  u.username = role;
  u.password = '';
  return u.toString();
};

async function failedStart(): Promise<string> {
  const p = await scene.start({ CDC_LEGACY_DATABASE_URL: asRole() }, { waitReady: false });
  await new Promise<void>((resolve) => (p.child.exitCode !== null ? resolve() : p.child.once('exit', () => resolve())));
  expect(p.child.exitCode).toBe(1);
  return /CDC failed to start: (.*)/.exec(p.output())?.[1] ?? p.output();
}

describe('the CDC reader as a legacy user with only some privileges', () => {
  it('REPLICATION and SELECT only: the publication cannot be made; the error names the grant and the owner-made publication', async () => {
    const said = await failedStart();
    expect(said).toContain(`permission denied for database ${scene.legacy.name}`);
    expect(said).toContain(`GRANT CREATE ON DATABASE ${scene.legacy.name} TO "${role}"`);
    expect(said).toContain(`CREATE PUBLICATION ${scene.slot} FOR TABLE ${tables};`);
    expect(said).toContain('CDC_PUBLICATION');
  });

  it('with CREATE on the database: it does not own the tables, and the error says the owner must make the publication', async () => {
    await admin.query(`GRANT CREATE ON DATABASE ${scene.legacy.name} TO ${role}`);
    const said = await failedStart();
    expect(said).toContain('must be owner of table patient_master');
    expect(said).toContain(`does not own table patient_master, and only a table's owner may put it in a publication: have the tables' owner (or a DBA) run once \`CREATE PUBLICATION ${scene.slot}`);
    await admin.query(`REVOKE CREATE ON DATABASE ${scene.legacy.name} FROM ${role}`);
  });

  it('the publication made by the owner: write-back cannot create its table in the schema, and the error names the grant', async () => {
    await admin.query(`CREATE PUBLICATION ${scene.slot} FOR TABLE ${tables}`);
    const said = await failedStart();
    expect(said).toContain('permission denied for schema public');
    expect(said).toContain(`GRANT USAGE, CREATE ON SCHEMA public TO "${role}"`);
  });

  it("with deploy/README.md's grants it starts and streams", async () => {
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables} TO ${role}`);
    await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    const p = await scene.start({ CDC_LEGACY_DATABASE_URL: asRole() });
    const status = (await (await fetch(`${p.url}/readyz`)).json()) as { state?: string };
    expect(JSON.stringify(status)).toContain('streaming');
    await p.stop();
  });
});
