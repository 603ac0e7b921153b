/**
 * `npm start`: the demo stack on one machine. A private PostgreSQL (wal_level=logical) and
 * Redis (unless DATABASE_URL / REDIS_URL are set), the stand-in legacy hospital system on
 * :8000 (its HL7 inbound on :2576), the new services patient-service and results-service on
 * :8101/:8102, the Ficus gateway on :8080 in front of them (admin API and dashboard on :8081),
 * the Ficus HL7 adapter on :2575 (its API on :8091) and change-data capture of the legacy
 * database (its API on :8092). Ctrl-C stops everything it started.
 *
 * FICUS_DEMO_NAME (default demo) names its folder under .ficus/, where PostgreSQL's data and the
 * admin token stay between runs; FICUS_DEMO_EPHEMERAL=true deletes that folder on stop (tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { withDatabase } from '@ficus/contracts';
import { DEMO_PORTS, demoPorts } from './lib/demo-ports.js';
import { MissingBinaryError, REPO_ROOT, STATE_DIR, startLocalServices, type LocalServices } from './lib/local-services.js';

const env = process.env;
const ports = demoPorts(env);
const fhirBase = env.FICUS_FHIR_BASE_URL ?? `http://localhost:${ports.gateway}/fhir`;
const DEMO_NAME = env.FICUS_DEMO_NAME ?? 'demo';
const DEMO_DIR = path.join(STATE_DIR, DEMO_NAME);
/** break glass: one emergency override file for the gateway, the HL7 adapter, the services and the CDC (README "The control plane") */
const EMERGENCY_FILE = env.FICUS_EMERGENCY_FILE ?? path.join(DEMO_DIR, 'emergency-legacy.yaml');

/**
 * The demo's first admin token: FICUS_ADMIN_TOKEN, or one made on the first run, kept in a
 * file only this user can read (the demo's rule store keeps its data between runs, and so
 * does the token). Printed once, when made.
 */
function adminToken(): { token: string; made: boolean; file: string } {
  const file = path.join(DEMO_DIR, 'admin-token');
  if (env.FICUS_ADMIN_TOKEN) return { token: env.FICUS_ADMIN_TOKEN, made: false, file };
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), made: false, file };
  const token = `ficus_${randomBytes(24).toString('base64url')}`;
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, made: true, file };
}

interface Deployable {
  name: string;
  entry: string;
  env: Record<string, string>;
  readyUrl: string;
  child?: ChildProcess;
  /** the stack runs on without it when it cannot start (CDC on a server without logical replication) */
  optional?: string;
  /** the stack runs on when it stops later: what the gateway does meanwhile */
  mayStop?: string;
  /** it became ready once: a later exit is a crash, and it is restarted */
  wasReady?: boolean;
  /** when it was restarted, for the restart budget */
  restarts?: number[];
}

/** A crashed component is restarted, as a process manager would, at most this often in RESTART_WINDOW_MS. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10 * 60_000;

const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);
// a closed terminal or pipe (its reader gone) must not crash the demo before it has stopped its stack
process.stdout.on('error', () => {});

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

function start(d: Deployable, onExit: (d: Deployable, code: number | string | null) => void): void {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', path.join(REPO_ROOT, d.entry)], {
    env: { ...env, ...d.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  d.child = child;
  const tag = `[${d.name}]`.padEnd(13);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag} ${line}\n`));
  }
  child.on('exit', (code, signal) => onExit(d, code ?? signal));
}

async function waitReady(d: Deployable, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (d.child?.exitCode !== null && d.child?.exitCode !== undefined) throw new Error(`${d.name} exited with code ${d.child.exitCode}`);
    try {
      const res = await fetch(d.readyUrl);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(`${d.name} did not become ready at ${d.readyUrl}`);
}

async function stopChild(d: Deployable): Promise<void> {
  const child = d.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function main(): Promise<void> {
  for (const [what, port] of Object.entries(ports) as [keyof typeof ports, number][]) {
    if (!(await portFree(port))) {
      console.error(`[demo] port ${port} (${what}) is in use: stop what uses it, or set ${DEMO_PORTS[what].variable}.`);
      process.exit(1);
    }
  }

  let services: LocalServices;
  try {
    // the stack's own ports are not bound yet: PostgreSQL and Redis must not take one of them
    services = await startLocalServices({ name: DEMO_NAME, ephemeral: env.FICUS_DEMO_EPHEMERAL === 'true', log: (l) => say(l), avoidPorts: Object.values(ports), durableRedis: true });
  } catch (e) {
    console.error(`[demo] ${e instanceof MissingBinaryError ? '' : 'could not start PostgreSQL/Redis: '}${(e as Error).message}`);
    process.exit(1);
  }

  const admin = adminToken();
  const deployables: Deployable[] = [
    {
      name: 'legacy-his',
      entry: 'examples/legacy-his/src/main.ts',
      env: { LEGACY_DATABASE_URL: withDatabase(services.databaseUrl, 'legacy_his'), LEGACY_HIS_PORT: String(ports.legacy), LEGACY_HIS_HL7_PORT: String(ports.legacyHl7) },
      readyUrl: `http://127.0.0.1:${ports.legacy}/readyz`,
    },
    {
      name: 'gateway',
      entry: 'gateway/src/main.ts',
      env: {
        FICUS_GATEWAY_PORT: String(ports.gateway),
        FICUS_ADMIN_PORT: String(ports.admin),
        FICUS_UPSTREAM_LEGACY_URL: env.FICUS_UPSTREAM_LEGACY_URL ?? `http://127.0.0.1:${ports.legacy}`,
        FICUS_UPSTREAM_PATIENT_SERVICE_URL: env.FICUS_UPSTREAM_PATIENT_SERVICE_URL ?? `http://127.0.0.1:${ports.patientService}`,
        FICUS_UPSTREAM_RESULTS_SERVICE_URL: env.FICUS_UPSTREAM_RESULTS_SERVICE_URL ?? `http://127.0.0.1:${ports.resultsService}`,
        REDIS_URL: services.redisUrl,
        DATABASE_URL: services.databaseUrl,
        FICUS_ADMIN_TOKEN: admin.token,
        FICUS_STATE_DIR: path.join(DEMO_DIR, 'gateway'),
        FICUS_EMERGENCY_FILE: EMERGENCY_FILE,
        FICUS_HL7_API_URL: `http://127.0.0.1:${ports.hl7Api}`,
        FICUS_CDC_API_URL: `http://127.0.0.1:${ports.cdc}`,
        // the services' conflict review (ficus conflicts, the dashboard's panel) on the demo's ports
        FICUS_PATIENT_SERVICE_API_URL: `http://127.0.0.1:${ports.patientService}`,
        FICUS_RESULTS_SERVICE_API_URL: `http://127.0.0.1:${ports.resultsService}`,
      },
      readyUrl: `http://127.0.0.1:${ports.gateway}/readyz`,
    },
    // the extracted services (their own databases on the demo's PostgreSQL), after the gateway,
    // which seeds the rule store: a service is not ready until it knows who holds the records
    ...(['patient', 'results'] as const).map((svc) => ({
      name: `${svc}-service`,
      entry: `extracted-services/${svc}-service/src/main.ts`,
      env: {
        DATABASE_URL: services.databaseUrl,
        REDIS_URL: services.redisUrl,
        [`${svc.toUpperCase()}_SERVICE_PORT`]: String(svc === 'patient' ? ports.patientService : ports.resultsService),
        PATIENT_SERVICE_URL: `http://127.0.0.1:${ports.patientService}`,
        // one public FHIR base, the gateway's /fhir (routing-rules/05-fhir.yaml), as compose and k8s
        // set it: Bundle links, references and the CapabilityStatement name it, not the services
        FHIR_BASE_URL: fhirBase,
        PATIENT_SERVICE_FHIR_BASE_URL: fhirBase,
        // the system of record follows the rules (patients-write, lab-results): flips need no restart
        FICUS_STATE_DIR: path.join(DEMO_DIR, `${svc}-service`),
        FICUS_EMERGENCY_FILE: EMERGENCY_FILE,
      },
      mayStop: 'the gateway answers safe requests from legacy while it is away (rules in mode new fall back)',
      readyUrl: `http://127.0.0.1:${svc === 'patient' ? ports.patientService : ports.resultsService}/readyz`,
    })),
    {
      // after the gateway: its rules come from the same rule store, which the gateway seeds
      name: 'hl7-adapter',
      entry: 'legacy-adapters/hl7-adapter/src/main.ts',
      env: {
        HL7_PORT: String(ports.hl7),
        HL7_API_PORT: String(ports.hl7Api),
        DATABASE_URL: services.databaseUrl,
        REDIS_URL: services.redisUrl,
        FICUS_RULES_SOURCE: 'store',
        FICUS_STATE_DIR: path.join(DEMO_DIR, 'hl7-adapter'),
        FICUS_EMERGENCY_FILE: EMERGENCY_FILE,
        FICUS_UPSTREAM_LEGACY_HL7_URL: env.FICUS_UPSTREAM_LEGACY_HL7_URL ?? `mllp://127.0.0.1:${ports.legacyHl7}`,
      },
      readyUrl: `http://127.0.0.1:${ports.hl7Api}/readyz`,
    },
    {
      name: 'cdc',
      entry: 'legacy-adapters/cdc/src/main.ts',
      env: { CDC_API_PORT: String(ports.cdc), DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, FICUS_STATE_DIR: path.join(DEMO_DIR, 'cdc'), FICUS_EMERGENCY_FILE: EMERGENCY_FILE },
      readyUrl: `http://127.0.0.1:${ports.cdc}/readyz`,
      optional: 'change-data capture (it needs wal_level=logical on the PostgreSQL server; the private one has it)',
    },
  ];

  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping...');
    for (const d of [...deployables].reverse()) await stopChild(d);
    await services.stop();
    say('stopped everything it started');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  process.on('SIGHUP', () => void stopAll(0));
  // npm start execs this process, so npm is its parent: npm killed outright (SIGKILL, or a crash)
  // must not leave the stack, its PostgreSQL and Redis running with nobody to stop them
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    say('the process that started the demo is gone');
    void stopAll(0);
  }, 1_000).unref();

  // A component that crashes after it was ready is restarted with a growing delay (a stopped CDC
  // would leave the services' reads stale with nothing saying so); one that keeps crashing is
  // given up on: the stack stops, or runs on without an optional one.
  const onExit = (d: Deployable, code: number | string | null) => {
    if (stopping || !d.wasReady) return;
    const now = Date.now();
    const recent = (d.restarts ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    if (recent.length >= MAX_RESTARTS) {
      if (d.optional || d.mayStop) {
        console.error(`[demo] ${d.name} stopped (exit ${code}) after ${MAX_RESTARTS} restarts in ${RESTART_WINDOW_MS / 60_000} minutes: it stays off; ${d.mayStop ?? 'the rest of the stack runs on'}`);
        return;
      }
      console.error(`[demo] ${d.name} stopped (exit ${code}) after ${MAX_RESTARTS} restarts in ${RESTART_WINDOW_MS / 60_000} minutes; stopping the stack`);
      void stopAll(1);
      return;
    }
    // a stopped service is left down for a while, so its fallback can be watched
    const delay = d.mayStop ? 10_000 : Math.min(30_000, 1_000 * 2 ** recent.length);
    d.restarts = [...recent, now];
    console.error(`[demo] ${d.name} stopped unexpectedly (exit ${code}); restarting it in ${delay / 1000} s (restart ${recent.length + 1} of ${MAX_RESTARTS} allowed in ${RESTART_WINDOW_MS / 60_000} minutes)${d.mayStop ? `; meanwhile ${d.mayStop}` : ''}`);
    setTimeout(() => {
      if (stopping) return;
      start(d, onExit);
      waitReady(d).then(
        () => say(`${d.name} is ready again (pid ${d.child?.pid})`),
        (e: Error) => console.error(`[demo] ${d.name} did not come back: ${e.message}`),
      );
    }, delay);
  };
  try {
    for (const d of deployables) {
      if (d.optional && !(await portFree(Number(new URL(d.readyUrl).port)))) {
        console.error(`[demo] port ${new URL(d.readyUrl).port} is in use: ${d.optional} is off (set CDC_API_PORT)`);
        continue;
      }
      start(d, onExit);
      try {
        await waitReady(d);
        d.wasReady = true;
        say(`${d.name} is ready (pid ${d.child?.pid})`);
      } catch (e) {
        if (!d.optional) throw e;
        console.error(`[demo] ${d.name} did not start (${(e as Error).message}): ${d.optional} is off; the rest of the stack runs on`);
        await stopChild(d);
      }
    }
  } catch (e) {
    console.error(`[demo] ${(e as Error).message}`);
    await stopAll(1);
    return;
  }

  const gw = `http://127.0.0.1:${ports.gateway}`;
  const adminUrl = `http://127.0.0.1:${ports.admin}`;
  say('');
  say('Ficus demo stack is up. Try:');
  say(`  curl -i ${gw}/api/patients/100001              # a patient, through the gateway (see x-ficus-route)`);
  say(`  curl -s '${gw}/api/patients?name=SMI&pageSize=5'  # search`);
  say(`  curl -s ${gw}/api/encounters?mrn=100001          # admissions`);
  say(`  curl -s ${gw}/metrics | grep ^ficus_            # gateway metrics`);
  say(`The migration dashboard: ${adminUrl}/admin  (sign in with the admin token below)`);
  say('The control plane (admin API, OpenAPI at ' + adminUrl + '/openapi.json):');
  if (admin.made) say(`  first admin token (shown once; also in ${path.relative(REPO_ROOT, admin.file)}): ${admin.token}`);
  else say(`  admin token: ${env.FICUS_ADMIN_TOKEN ? 'FICUS_ADMIN_TOKEN' : `in ${path.relative(REPO_ROOT, admin.file)}`}`);
  say(`  export FICUS_ADMIN_URL=${adminUrl} FICUS_TOKEN=$(cat ${path.relative(process.cwd(), admin.file)})`);
  say('  npx ficus rules list');
  say('  npx ficus rules flip patients-read --mode canary --percent 50 --reason "pilot on ward 7"');
  say('  npx ficus rules explain GET /api/patients/100001');
  say('  npx ficus rules versions && npx ficus rules rollback 1 --reason "back to legacy"');
  say(`HL7 (MLLP on ${ports.hl7}; the legacy HIS's own HL7 inbound on ${ports.legacyHl7}):`);
  say(`  mllp_send --loose -f examples/hl7/ADT-A01-admit.hl7 -p ${ports.hl7} 127.0.0.1   # Debian: apt-get install python3-hl7; prints the ACK (MSA|AA|...)`);
  say(`  mllp_send --loose -f examples/hl7/QRY-A19-patient-query.hl7 -p ${ports.hl7} 127.0.0.1   # a query: passed to legacy, its ADR^A19 (the patient just admitted) comes back`);
  say(`  mllp_send --loose -f test-support/hl7-samples/ADT-A08-01.hl7 -p ${ports.hl7} 127.0.0.1   # a public sample: stored and acknowledged; legacy refuses its MRN (a dead letter)`);
  say('  npx ficus hl7 messages && npx ficus hl7 stats && npx ficus hl7 dead-letters');
  say('  npx ficus rules flip adt-patient-events --mode dual --reason "patient-service takes ADT beside legacy"');
  say(`  curl -s http://127.0.0.1:${ports.hl7Api}/metrics | grep ^ficus_hl7`);
  say('  npx ficus rules flip patients-read --mode shadow --reason "compare before the pilot" && npx ficus parity');
  say(`Change-data capture (legacy_his → cdc.<topic>.p<n> queues): npx ficus cdc status ; curl -s http://127.0.0.1:${ports.cdc}/readyz`);
  say('What a new service gave up on (its queues\' dead letters): npx ficus queues dead-letters ; npx ficus queues replay <queue> <id> --reason "..."');
  say(`legacy HIS directly: http://127.0.0.1:${ports.legacy}  HL7 adapter API: http://127.0.0.1:${ports.hl7Api}  PostgreSQL: ${services.databaseUrl}  Redis: ${services.redisUrl}`);
  say(`FHIR R4 (patient-service and results-service through the gateway): ${fhirBase}/metadata  patient-service: http://127.0.0.1:${ports.patientService}  results-service: http://127.0.0.1:${ports.resultsService}`);
  say('Ctrl-C stops everything.');
}

await main();
