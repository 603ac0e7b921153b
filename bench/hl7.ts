/**
 * `npm run bench -- hl7`: HL7 messages stored durably and acknowledged per second by the Ficus
 * HL7 adapter, with 1 and 8 senders each keeping its connection and sending the next message
 * after its ACK, and the ACK latency (p50, p99); beside, in the same run, node-hl7-server 2.5.0
 * storing each message with a committed INSERT before its AA (a fresh connection per message:
 * it mishandles kept-open ones). PostgreSQL runs with its defaults: fsync on,
 * synchronous_commit on. The adapter's dispatcher runs meanwhile, delivering to a legacy
 * inbound stand-in that ACKs at once.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withDatabase } from '@ficus/contracts';
import { freePort, startLocalServices } from '../scripts/lib/local-services.js';
import { freshConnections, keptOpen, type LoadResult } from './lib/mllp-load.js';
import { cpuTimes, stealSince } from './lib/cpu-steal.js';
import { asImageRuns } from './lib/image-flags.js';
import { machineFacts } from './lib/loopback-probe.js';
import { startProcess, stopAll, waitForPort } from './lib/processes.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx', '--conditions=ficus-source'];

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return withDatabase(serverUrl, name);
}

const line = (name: string, r: LoadResult) =>
  `| ${name} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.messages}${r.errors ? ` (${r.errors} errors)` : ''} |`;

export async function benchHl7(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const seconds = quick ? 4 : 10;
  const machine = await machineFacts();
  const cpuAtStart = cpuTimes();
  const services = await startLocalServices({ name: `bench-hl7-${process.pid}`, ephemeral: true, log: (l) => console.error(`[bench] ${l}`) });
  try {
    console.error('[bench] compiling the HL7 adapter (tsc -b)');
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', path.join(ROOT, 'legacy-adapters/hl7-adapter/tsconfig.build.json')], { stdio: 'inherit' });
    const { rows } = await new pg.Pool({ connectionString: services.databaseUrl, max: 1 }).query<{ fsync: string; synchronous_commit: string }>(
      "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
    );
    console.error(`[bench] PostgreSQL fsync=${rows[0]!.fsync} synchronous_commit=${rows[0]!.synchronous_commit}; ${os.cpus().length} CPUs, Node ${process.version}`);

    const [ackerPort, adapterPort, apiPort, peerPort] = await Promise.all(Array.from({ length: 4 }, () => freePort()));
    startProcess(process.execPath, [...TSX, path.join(ROOT, 'bench/peers/mllp-acker.ts')], { PORT: String(ackerPort) });
    const dir = path.join(ROOT, 'bench', 'results', `hl7-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '00-upstreams.yaml'), `upstreams:\n  legacy: { url: "http://127.0.0.1:9" }\n  legacy-hl7: { url: "mllp://127.0.0.1:${ackerPort}" }\n`);
    writeFileSync(path.join(dir, '10-http.yaml'), 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n');
    writeFileSync(path.join(dir, '20-hl7.yaml'), 'hl7:\n  - id: everything\n    match: {}\n    mode: legacy\n');
    startProcess(process.execPath, asImageRuns('legacy-adapters/hl7-adapter/dist/main.js'), {
      HL7_HOST: '127.0.0.1',
      HL7_PORT: String(adapterPort),
      HL7_API_HOST: '127.0.0.1',
      HL7_API_PORT: String(apiPort),
      DATABASE_URL: services.databaseUrl,
      HL7_DATABASE_URL: await createDatabase(services.databaseUrl, 'bench_hl7'),
      FICUS_STORE_URL: await createDatabase(services.databaseUrl, 'bench_hl7_rules'),
      REDIS_URL: services.redisUrl,
      FICUS_RULES_SOURCE: 'files',
      FICUS_RULES_DIR: dir,
      FICUS_STATE_DIR: path.join(dir, 'state'),
      LOG_LEVEL: 'warn',
    });
    startProcess(process.execPath, [...TSX, path.join(ROOT, 'bench/peers/node-hl7-server.ts')], { PORT: String(peerPort), DATABASE_URL: await createDatabase(services.databaseUrl, 'bench_peer') });
    await Promise.all([ackerPort, adapterPort, peerPort].map((p) => waitForPort(p!, 60_000)));

    // warm-up
    await keptOpen(adapterPort!, 8, 2, 'warm');
    await freshConnections(peerPort!, 8, 2, 'warm');
    const runs: Record<string, LoadResult[]> = { one: [], eight: [], peer: [] };
    for (let round = 0; round < (quick ? 1 : 2); round++) {
      runs.one!.push(await keptOpen(adapterPort!, 1, seconds, `r${round}-one`));
      runs.eight!.push(await keptOpen(adapterPort!, 8, seconds, `r${round}-eight`));
      runs.peer!.push(await freshConnections(peerPort!, 8, seconds, `r${round}-peer`));
      for (const [k, v] of Object.entries(runs)) {
        const r = v.at(-1)!;
        console.error(`[bench] round ${round + 1} ${k.padEnd(5)} ${r.perSecond.toFixed(0).padStart(6)} msg/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`);
      }
    }
    const best = (k: string) => runs[k]!.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const one = best('one');
    const eight = best('eight');
    const peer = best('peer');

    // the adapter really stored them
    const check = new pg.Client({ connectionString: withDatabase(services.databaseUrl, 'bench_hl7') });
    await check.connect();
    const stored = Number((await check.query<{ n: string }>('SELECT count(*) AS n FROM hl7_messages')).rows[0]!.n);
    await check.end();

    console.log('');
    console.log('| sender | messages/s | p50 ACK ms | p99 ACK ms | messages |');
    console.log('|---|---:|---:|---:|---:|');
    console.log(line('Ficus, 1 kept-open connection', one));
    console.log(line('Ficus, 8 kept-open connections', eight));
    console.log(line('node-hl7-server 2.5.0, 8 senders, a connection per message', peer));
    console.log('');
    console.log(`Ficus 8 connections: ${eight.perSecond.toFixed(0)} msg/s (target >= 3000), p99 ACK ${eight.p99.toFixed(2)} ms (target <= 10); ${(eight.perSecond / peer.perSecond).toFixed(2)}x node-hl7-server; ${stored} messages in the store`);
    console.log(
      JSON.stringify({
        bench: 'hl7',
        msgs_per_s_1conn: Math.round(one.perSecond),
        msgs_per_s_8conn: Math.round(eight.perSecond),
        p50_ack_ms_1conn: Number(one.p50.toFixed(2)),
        p99_ack_ms_1conn: Number(one.p99.toFixed(2)),
        p50_ack_ms_8conn: Number(eight.p50.toFixed(2)),
        p99_ack_ms_8conn: Number(eight.p99.toFixed(2)),
        node_hl7_server_msgs_per_s: Math.round(peer.perSecond),
        node_hl7_server_p99_ms: Number(peer.p99.toFixed(2)),
        ficus_vs_node_hl7_server: Number((eight.perSecond / peer.perSecond).toFixed(2)),
        durable_commits: rows[0]!.fsync === 'on' && rows[0]!.synchronous_commit === 'on',
        stored,
        cpu_steal_percent: Number(stealSince(cpuAtStart).toFixed(1)),
        ...machine,
      }),
    );
  } finally {
    await stopAll();
    await services.stop();
  }
}
