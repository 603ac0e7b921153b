/**
 * Each service as it is deployed: its entry point as a process, configured by environment
 * variables, creating and migrating its own database, answering /healthz, /readyz and
 * /metrics, stopping cleanly on SIGTERM; and refusing a bad setting by its name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '@ficus/contracts';
import { dropDatabase } from '../../test-support/databases.js';
import pg from 'pg';

const ROOT = path.resolve(import.meta.dirname, '../..');
const running: ChildProcess[] = [];
const databases: string[] = [];

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  const admin = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await admin.connect();
  for (const db of databases) await dropDatabase(admin, db);
  await admin.end();
});

interface Started {
  child: ChildProcess;
  lines: () => string[];
  exited: Promise<number | null>;
}

function start(entry: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines: () => out.split('\n').filter(Boolean), exited };
}

async function listeningPort(s: Started, message: string): Promise<number> {
  const end = Date.now() + 60_000;
  for (;;) {
    for (const line of s.lines()) {
      if (line.includes(message)) return (JSON.parse(line) as { port: number }).port;
    }
    if (s.child.exitCode !== null) throw new Error(`exited early:\n${s.lines().join('\n')}`);
    if (Date.now() > end) throw new Error(`no "${message}" line:\n${s.lines().join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each([
  { name: 'patient-service', entry: 'extracted-services/patient-service/src/main.ts', prefix: 'PATIENT_SERVICE', path: '/api/patients/100001' },
  { name: 'results-service', entry: 'extracted-services/results-service/src/main.ts', prefix: 'RESULTS_SERVICE', path: '/api/results?mrn=abc' },
])('$name', ({ name, entry, prefix, path: apiPath }) => {
  it('starts from its environment, creates its database, serves, and stops on SIGTERM', async () => {
    const db = `deploy_${name.replace('-', '_')}_${process.pid}`;
    databases.push(db);
    const s = start(entry, {
      DATABASE_URL: inject('databaseUrl'),
      [`${prefix}_DATABASE_URL`]: withDatabase(inject('databaseUrl'), db),
      REDIS_URL: `${inject('redisUrl')}/9`,
      [`${prefix}_HOST`]: '127.0.0.1',
      [`${prefix}_PORT`]: '0',
      LOG_LEVEL: 'info',
    });
    const port = await listeningPort(s, `"${name} listening"`);
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'UP' });
    // by default the system of record follows the rules; with no rule store to read, the legacy holds it (failing safe),
    // and the service is not ready: behind a load balancer it would refuse every write it is sent
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'DOWN', database: 'UP', queues: 'UP', systemOfRecord: 'legacy', systemOfRecordFrom: { from: 'rules', rulesVersion: null }, why: expect.stringMatching(/^the rules are unknown/) });
    const api = await fetch(`${base}${apiPath}`);
    expect([404, 400]).toContain(api.status);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`ficus_service_http_requests_total{route=`);
    expect(metrics).toContain(`ficus_service_system_of_record{service="${name}"} 0`);
    expect(metrics).toMatch(/ficus_service_queue_waiting\{channel="hl7"/);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.lines().some((l) => l.includes('"stopped"'))).toBe(true);
  });

  it('refuses a bad setting, naming it', async () => {
    const s = start(entry, { [`${prefix}_PORT`]: 'eighty', [`${prefix}_SYSTEM_OF_RECORD`]: 'both' });
    expect(await s.exited).toBe(1);
    const out = s.lines();
    // every wrong variable at once, with its reason, and no stack trace
    expect(out).toContain(`  ${prefix}_PORT: must be a whole number (it is "eighty")`);
    expect(out.some((l) => l.startsWith(`  ${prefix}_SYSTEM_OF_RECORD: must be one of `) && l.endsWith('(it is "both")'))).toBe(true);
    expect(out.join('\n')).not.toMatch(/^\s+at /m);
    const fatal = out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; service: string; problems: string[] });
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ level: 'fatal', service: name });
    expect(fatal[0]!.problems).toHaveLength(2);
  });
});
