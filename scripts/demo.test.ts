/**
 * From a fresh copy of the repository with nothing installed, `npm start` serves a legacy
 * patient through the gateway on port 8080, takes an HL7 message on 2575 (AA), which reaches
 * the legacy system through its HL7 inbound, answers a query about that patient with legacy's
 * ADR^A19, and Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops
 * everything it started: every service, PostgreSQL and Redis. So does a signal to npm alone.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeFrame, MllpDecoder, readAck } from '@ficus/hl7-protocol';
import { REPO_ROOT } from './lib/local-services.js';
import { demoPortEnv, demoPorts, pickDemoPorts } from './lib/demo-ports.js';
import { startDemoProcess, type DemoProcess } from './lib/demo-process.js';

/** One message over MLLP, and the answer to it. */
function sendHl7(port: number, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(encodeFrame(message)));
    const decoder = new MllpDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.type !== 'frame') continue;
        resolve(e.payload);
        socket.end();
      }
    });
    socket.on('error', reject);
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer in time')));
  });
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let copy = '';
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

/** `npm start` in the copy, in a process group of its own, as a terminal would run it */
const startDemo = (env: NodeJS.ProcessEnv) => startDemoProcess('npm', ['start'], copy, env);

/** nothing the demo started is left: its process group, its ports, its PostgreSQL and Redis */
async function expectAllStopped(demo: DemoProcess, ports: Record<string, number>): Promise<void> {
  for (let i = 0; i < 60 && processAlive(-demo.pid); i++) await sleep(250);
  const left = processAlive(-demo.pid) ? execFileSync('ps', ['-o', 'pid,args', '--no-headers', '-g', String(demo.pid)], { encoding: 'utf8' }) : '';
  expect(left, `processes left in the demo process group\n${demo.output().slice(-4000)}`).toBe('');
  for (const port of Object.values(ports)) expect(await portFree(port), `port ${port}`).toBe(true);
  const pgPid = path.join(copy, '.ficus/demo/pg/postmaster.pid');
  // a group's SIGINT reaches PostgreSQL too: its own fast shutdown may still be finishing
  for (let i = 0; i < 240 && existsSync(pgPid); i++) await sleep(250);
  expect(existsSync(pgPid), `PostgreSQL still running\n${demo.output().slice(-4000)}`).toBe(false);
  const redisPidFile = path.join(copy, '.ficus/demo/redis/redis.pid');
  if (existsSync(redisPidFile)) expect(processAlive(Number(readFileSync(redisPidFile, 'utf8')))).toBe(false);
  expect(demo.output()).toContain('stopped everything it started');
}

describe('npm start on a fresh copy', () => {
  let ports = demoPorts();
  let env: NodeJS.ProcessEnv = {};

  it('serves a legacy patient through the gateway on 8080, takes HL7 on 2575, and Ctrl-C stops everything', { timeout: 480_000 }, async () => {
    // the files a clone would have: tracked and new ones, nothing ignored (no node_modules, no .ficus)
    copy = mkdtempSync(path.join(tmpdir(), 'ficus-fresh-'));
    chmodSync(copy, 0o755);
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const f of files) {
      if (!existsSync(path.join(REPO_ROOT, f))) continue; // deleted but not yet committed
      mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      copyFileSync(path.join(REPO_ROOT, f), path.join(copy, f));
    }
    expect(existsSync(path.join(copy, 'node_modules'))).toBe(false);

    const busy = (await Promise.all(Object.values(ports).map(portFree))).includes(false);
    if (busy) {
      // someone runs a demo on this machine already: use other ports rather than fail
      const base = 18_000 + Math.floor(Math.random() * 1_000);
      let next = 0;
      ports = await pickDemoPorts(() => base + 1_000 * next++);
    }
    env = { ...process.env, ...demoPortEnv(ports), LEGACY_HIS_SEED_PATIENTS: '300' };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    delete env.NODE_OPTIONS;
    const demo = startDemo(env);

    try {
      await demo.up();
      const gw = `http://127.0.0.1:${ports.gateway}`;
      const res = await fetch(`${gw}/api/patients/100001`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ficus-route')).toBe('patients-read; legacy');
      const patient = (await res.json()) as { mrn: string; lastName: string };
      expect(patient.mrn).toBe('100001');
      expect(patient.lastName).toMatch(/^[A-Z' -]+$/);
      expect(existsSync(path.join(copy, 'node_modules'))).toBe(true);
      // FHIR at the gateway's /fhir: what the services answer names that base, not their own ports
      const capability = (await (await fetch(`${gw}/fhir/metadata`)).json()) as { implementation?: { url: string }; rest: { resource: { type: string }[] }[] };
      expect(capability.implementation?.url).toBe(`http://localhost:${ports.gateway}/fhir`);
      expect(capability.rest[0]!.resource.map((r) => r.type)).toContain('Observation');
      // the admin API reaches the services' conflict review on the ports the demo gave them
      const token = readFileSync(path.join(copy, '.ficus', env.FICUS_DEMO_NAME ?? 'demo', 'admin-token'), 'utf8').trim();
      for (const service of ['patient-service', 'results-service']) {
        const review = await fetch(`http://127.0.0.1:${ports.admin}/api/services/${service}/conflicts`, { headers: { authorization: `Bearer ${token}` } });
        expect(review.status, `${service}: ${await review.clone().text()}`).toBe(200);
        await review.arrayBuffer();
      }

      // HL7: stored and acknowledged by the adapter, then applied by the legacy system's HL7 inbound
      const ack = readAck(await sendHl7(ports.hl7, readFileSync(path.join(copy, 'examples/hl7/ADT-A01-admit.hl7'))));
      expect(ack).toMatchObject({ code: 'AA', controlId: 'DEMO-A01-0001' });
      let admitted = 0;
      for (let i = 0; i < 120 && admitted !== 200; i++) {
        const r = await fetch(`${gw}/api/patients/8000001`);
        await r.arrayBuffer();
        admitted = r.status;
        if (admitted !== 200) await sleep(250);
      }
      expect(admitted, demo.output()).toBe(200);
      // a query goes to legacy while the sender waits: the answer holds the patient just admitted
      const answer = decodeMessage(await sendHl7(ports.hl7, readFileSync(path.join(copy, 'examples/hl7/QRY-A19-patient-query.hl7'))));
      if (!answer.ok) throw new Error(`the query's answer is not HL7: ${answer.error.message}`);
      expect(answer.message.get('MSH-9.1')).toBe('ADR');
      expect(answer.message.get('MSA-1')).toBe('AA');
      expect(answer.message.get('PID-3.1')).toBe('8000001');
      expect(answer.message.get('PID-5.1')).toBe('DEMO');
      expect(demo.output()).toContain(`mllp_send --loose -f examples/hl7/ADT-A01-admit.hl7 -p ${ports.hl7} 127.0.0.1`);

      // a component that crashes is restarted (a dead CDC left the services' copies stale, silently)
      const cdcPid = Number(/cdc is ready \(pid (\d+)\)/.exec(demo.output())?.[1]);
      expect(cdcPid, demo.output()).toBeGreaterThan(0);
      process.kill(cdcPid, 'SIGKILL');
      let back = false;
      for (let i = 0; i < 240 && !back; i++) {
        await sleep(250);
        back = /cdc is ready again \(pid \d+\)/.test(demo.output());
      }
      expect(back, demo.output()).toBe(true);
      expect(demo.output()).toContain('cdc stopped unexpectedly (exit SIGKILL); restarting it');
      const ready = await fetch(`http://127.0.0.1:${ports.cdc}/readyz`);
      expect(ready.status).toBe(200);
      await ready.arrayBuffer();
    } finally {
      // Ctrl-C: SIGINT to the whole foreground process group
      process.kill(-demo.pid, 'SIGINT');
    }
    const code = await Promise.race([demo.exited, sleep(90_000).then(() => 'timeout' as const)]);
    expect(code, demo.output()).not.toBe('timeout');
    await expectAllStopped(demo, ports);
  });

  // what a process manager, a CI job or `kill <pid>` does: a signal to npm alone, not to its group
  it.each([
    ['SIGTERM', 'npm forwards it to the demo'],
    ['SIGKILL', 'the demo sees its parent gone'],
  ] as const)('%s to npm alone stops everything too (%s)', { timeout: 300_000 }, async (signal, _why) => {
    expect(copy, 'the first test made the copy').not.toBe('');
    const demo = startDemo(env);
    try {
      await demo.up();
      const res = await fetch(`http://127.0.0.1:${ports.gateway}/api/patients/100001`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      process.kill(demo.pid, signal);
    }
    await expectAllStopped(demo, ports);
  });
});
