/**
 * `npm run bench -- cdc`: change-data capture end to end, from a commit on the legacy tables
 * to the change committed in a service's database. A steady offered load (constant rate,
 * open loop: transactions are sent when due, whatever the pipeline does) of multi-row
 * transactions on LAB_RESULT and PATIENT_MASTER; the Ficus CDC deployable (compiled, as its
 * image runs it) streams them to the topics' queues; a stand-in service in its own process
 * applies them with startChangeConsumer (one batched upsert per job) and records, for every
 * change it applies, the legacy commit time beside its own clock. 5,000 changes/s first, then
 * steps up until a rate is no longer sustained (the offered load not met, or more than 1 s of it
 * still to apply at the step's end); when 5,000/s is not sustained, steps down. Everything
 * (both databases, Redis, the reader, the service, the load) shares this machine's cores.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { parse } from 'yaml';
import { withDatabase } from '@ficus/contracts';
import { migrateLegacy, seedLegacy } from '@ficus/legacy-his';
import { freePort, startLocalServices } from '../scripts/lib/local-services.js';
import { createTarget, type MirroredTopic } from '../test-support/cdc-target.js';
import { boundedLoad, transactionSql } from '../test-support/legacy-load.js';
import { asImageRuns } from './lib/image-flags.js';
import { cpuTimes, stealSince } from './lib/cpu-steal.js';
import { machineFacts } from './lib/loopback-probe.js';
import { startProcess, stopAll } from './lib/processes.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx', '--conditions=ficus-source'];
const ROWS_PER_TXN = 10;
const changesOf = (n: number) => ROWS_PER_TXN + 2 + (n % 3 === 0 && ROWS_PER_TXN > 1 ? 1 : 0);

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return withDatabase(serverUrl, name);
}

/** CPU time of a process so far, in ms (Linux /proc; utime + stime at 100 ticks/s) */
function cpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** cumulative counts of the CDC deployable's commit-to-enqueued histogram, by upper bound (s) */
async function enqueueLagBuckets(apiPort: number): Promise<Map<number, number>> {
  const m = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const [, le, n] of m.matchAll(/^ficus_cdc_lag_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)$/gm)) {
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(n));
  }
  return buckets;
}

/** the bucket bound under which a fraction q of the step's transactions were enqueued (ms) */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b * 1000;
  return Infinity;
}

interface StepResult {
  offered: number;
  achievedOffered: number;
  appliedPerSecond: number;
  p50: number;
  p99: number;
  drainMs: number | null;
  sustained: boolean;
  /** commit to enqueued (the CDC deployable's part of the lag), as histogram bucket bounds */
  enqueueP50: number;
  enqueueP99: number;
  /** CPU ms per 1,000 changes: the CDC deployable, the consuming service */
  cdcCpu: number;
  consumerCpu: number;
}

/** Sends transactions at a constant rate of changes for `seconds`; answers the changes committed. */
async function constantLoad(pool: pg.Pool, changesPerSecond: number, seconds: number, first: number): Promise<{ changes: number; next: number; elapsed: number }> {
  const txnPerSecond = changesPerSecond / (ROWS_PER_TXN + 2 + 1 / 3);
  const total = Math.round(txnPerSecond * seconds);
  const clients = await Promise.all(Array.from({ length: 40 }, () => pool.connect()));
  const free = [...clients];
  const waiting: (() => void)[] = [];
  let sent = 0;
  let changes = 0;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * txnPerSecond) + 1);
    while (sent < due) {
      if (free.length === 0) await new Promise<void>((r) => waiting.push(r));
      const c = free.pop()!;
      const n = first + sent++;
      const p = c
        .query(transactionSql(n, ROWS_PER_TXN))
        .then(() => void (changes += changesOf(n)))
        .catch((e: Error) => console.error(`[bench] load transaction failed: ${e.message}`))
        .finally(() => {
          free.push(c);
          inFlight.delete(p);
          waiting.shift()?.();
        });
      inFlight.add(p);
    }
    await sleep(2);
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  for (const c of clients) c.release();
  return { changes, next: first + sent, elapsed };
}

export async function benchCdc(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const seconds = quick ? 5 : 10;
  const steps = quick ? [5_000, 10_000] : [5_000, 7_500, 10_000, 11_000, 12_000, 13_000, 14_000, 15_000, 17_500, 20_000, 25_000];
  const machine = await machineFacts();
  const cpuAtStart = cpuTimes();
  const services = await startLocalServices({ name: `bench-cdc-${process.pid}`, ephemeral: true, log: (l) => console.error(`[bench] ${l}`) });
  let consumer: ChildProcess | undefined;
  try {
    console.error('[bench] compiling the CDC deployable (tsc -b)');
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', path.join(ROOT, 'legacy-adapters/cdc/tsconfig.build.json')], { stdio: 'inherit' });
    const legacyUrl = await createDatabase(services.databaseUrl, 'bench_legacy');
    await migrateLegacy(legacyUrl);
    const legacy = new pg.Pool({ connectionString: legacyUrl, max: 48 });
    await seedLegacy(legacy, { patients: 200, seed: 1 });
    const settings = (await legacy.query<{ s: string }>("SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit') AS s")).rows[0]!.s;
    console.error(`[bench] PostgreSQL fsync/synchronous_commit ${settings}; ${os.cpus().length} CPUs, Node ${process.version}`);

    const mapping = parse(readFileSync(path.join(ROOT, 'routing-rules/cdc/legacy-his.yaml'), 'utf8')) as { cdc: { topics: { topic: string; table: string; key: string[]; fields: Record<string, string> }[] } };
    const topics: MirroredTopic[] = mapping.cdc.topics.map((t) => ({ topic: t.topic, legacyTable: t.table, fields: Object.entries(t.fields), key: t.key }));
    const targetUrl = await createDatabase(services.databaseUrl, 'bench_target');
    const target = await createTarget(legacy, targetUrl, topics);

    const apiPort = await freePort();
    const cdcEnv = {
      CDC_API_HOST: '127.0.0.1',
      CDC_API_PORT: String(apiPort),
      CDC_LEGACY_DATABASE_URL: legacyUrl,
      CDC_STATE_DATABASE_URL: await createDatabase(services.databaseUrl, 'bench_cdc_state'),
      FICUS_STORE_URL: await createDatabase(services.databaseUrl, 'bench_cdc_rules'),
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: services.redisUrl,
      CDC_WRITEBACK_SERVICES: '',
      FICUS_STATE_DIR: path.join(ROOT, 'bench', 'results', `cdc-${Date.now()}`),
      LOG_LEVEL: 'warn',
    };
    let cdcProcess = startProcess(process.execPath, asImageRuns('legacy-adapters/cdc/dist/main.js'), cdcEnv);
    const cdcReady = async () => {
      for (let i = 0; ; i++) {
        const ok = await fetch(`http://127.0.0.1:${apiPort}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        if (i > 600) throw new Error('the CDC deployable did not become ready');
        await sleep(50);
      }
    };
    await cdcReady();
    let events = 0;
    // its counts come on stdout, which startProcess does not keep
    consumer = spawn(process.execPath, [...TSX, path.join(ROOT, 'bench/lib/cdc-consumer.ts')], {
      env: { ...process.env, TARGET_URL: targetUrl, REDIS_URL: services.redisUrl, TOPICS: JSON.stringify(topics) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: consumer.stdout! }).on('line', (l) => {
      const count = /^\{"events":(\d+)\}$/.exec(l);
      if (count) events = Number(count[1]);
      else console.error(`[consumer] ${l.slice(0, 400)}`);
    });
    const snapshotRows = (await legacy.query<{ n: string }>('SELECT (SELECT count(*) FROM patient_master) + (SELECT count(*) FROM ward) + (SELECT count(*) FROM admission) + (SELECT count(*) FROM lab_result) + (SELECT count(*) FROM patient_merge) AS n')).rows[0]!.n;
    for (let i = 0; events < Number(snapshotRows); i++) {
      if (i > 1200) throw new Error(`the snapshot did not reach the target (${events} of ${snapshotRows})`);
      await sleep(100);
    }
    console.error(`[bench] snapshot applied (${snapshotRows} rows); warming up`);
    let next = 0;
    next = (await constantLoad(legacy, 2_000, quick ? 2 : 4, next)).next;
    await sleep(2_000);

    const results: StepResult[] = [];
    // up from 5,000 while sustained; if 5,000 is not, down until a rate is (a busy machine)
    const down = [4_000, 3_000, 2_000, 1_000];
    for (let i = 0; i < steps.length; i++) {
      const rate = steps[i]!;
      const eventsBefore = events;
      const cpu0 = [cpuMs(cdcProcess.pid), cpuMs(consumer.pid)];
      const lagBuckets0 = await enqueueLagBuckets(apiPort);
      const t0 = (await target.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
      const load = await constantLoad(legacy, rate, seconds, next);
      next = load.next;
      const t1 = (await target.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
      const appliedInWindow = events - eventsBefore;
      const endAt = performance.now();
      const m = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
      const sum = (name: string) => [...m.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'gm'))].reduce((a, x) => a + Number(x[1]), 0);
      console.error(`[bench]   at the step's end: published ${sum('ficus_cdc_changes_published_total')}, read ${sum('ficus_cdc_changes_read_total')}, held ${sum('ficus_cdc_held_events')}, waiting jobs ${sum('ficus_cdc_queue_depth')}, consumed ${events}`);
      let drainMs: number | null = null;
      while (performance.now() - endAt < 15_000) {
        if (events - eventsBefore >= load.changes) {
          drainMs = performance.now() - endAt;
          break;
        }
        await sleep(20);
      }
      const cpu1 = [cpuMs(cdcProcess.pid), cpuMs(consumer.pid)];
      const lagBuckets1 = await enqueueLagBuckets(apiPort);
      // lag of the changes committed in the step, after the first second (the step's ramp)
      const { rows } = await target.query<{ p50: number | null; p99: number | null }>(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
           FROM (SELECT extract(epoch FROM l.applied_at - l.commit_time) * 1000 AS ms FROM cdc_lag l, generate_series(1, l.n) WHERE l.commit_time >= $1::timestamptz + interval '1 second' AND l.commit_time < $2) x`,
        [t0, t1],
      );
      const r: StepResult = {
        offered: rate,
        achievedOffered: load.changes / load.elapsed,
        appliedPerSecond: appliedInWindow / load.elapsed,
        p50: rows[0]!.p50 ?? NaN,
        p99: rows[0]!.p99 ?? NaN,
        drainMs,
        // sustained: the load was offered in full, and the pipeline had kept up (at most 1 s of it left to apply at the end)
        sustained: load.changes / load.elapsed >= rate * 0.95 && drainMs !== null && drainMs <= 1_000,
        enqueueP50: bucketQuantile(lagBuckets0, lagBuckets1, 0.5),
        enqueueP99: bucketQuantile(lagBuckets0, lagBuckets1, 0.99),
        cdcCpu: ((cpu1[0]! - cpu0[0]!) / load.changes) * 1000,
        consumerCpu: ((cpu1[1]! - cpu0[1]!) / load.changes) * 1000,
      };
      results.push(r);
      console.error(
        `[bench] offered ${rate}/s: sent ${r.achievedOffered.toFixed(0)}/s, applied ${r.appliedPerSecond.toFixed(0)}/s during the step, drained ${drainMs === null ? 'not within 15 s' : `${drainMs.toFixed(0)} ms after`}; CPU per 1,000 changes: CDC ${r.cdcCpu.toFixed(0)} ms, service ${r.consumerCpu.toFixed(0)} ms; lag p50 ${r.p50.toFixed(0)} ms p99 ${r.p99.toFixed(0)} ms, of which commit to enqueued p50 <= ${r.enqueueP50} ms p99 <= ${r.enqueueP99} ms${r.sustained ? '' : ' (not sustained)'}`,
      );
      await sleep(2_000);
      if (r.sustained) continue;
      if (results.some((x) => x.sustained) || down.length === 0) break;
      steps.splice(i + 1, steps.length, down.shift()!); // the next step is lower
    }
    // catch-up: with the reader stopped, a backlog is written; then it is read, enqueued and
    // applied as fast as the pipeline goes, without the load competing for the cores. First
    // what the last step left is applied (no change counted for 1 s), so that it is not counted
    for (let quiet = 0, seen = events, waited = 0; quiet < 1_000 && waited < 60_000; waited += 100) {
      await sleep(100);
      quiet = events === seen ? quiet + 100 : 0;
      seen = events;
    }
    const stopped = new Promise((r) => cdcProcess.once('exit', r));
    cdcProcess.kill('SIGTERM');
    await stopped;
    const backlogTxns = quick ? 400 : 2_000;
    const backlogFrom = events;
    await boundedLoad(legacy, { transactions: backlogTxns, concurrency: 8, rows: 50, first: next });
    const backlog = Array.from({ length: backlogTxns }, (_, k) => 50 + 2 + ((next + k) % 3 === 0 ? 1 : 0)).reduce((a, b) => a + b, 0);
    // timed from the reader's start, its start-up included: it streams before /readyz answers
    const catchStart = performance.now();
    const cpuC0 = [0, cpuMs(consumer.pid)];
    cdcProcess = startProcess(process.execPath, asImageRuns('legacy-adapters/cdc/dist/main.js'), cdcEnv);
    await cdcReady();
    while (events - backlogFrom < backlog && performance.now() - catchStart < 180_000) await sleep(20);
    const catchUpSeconds = (performance.now() - catchStart) / 1000;
    const catchUp = (events - backlogFrom) / catchUpSeconds;
    const cpuC1 = [cpuMs(cdcProcess.pid), cpuMs(consumer.pid)];
    console.error(
      `[bench] catch-up: ${events - backlogFrom} of ${backlog} backlog changes applied in ${catchUpSeconds.toFixed(1)} s: ${catchUp.toFixed(0)} changes/s; ` +
        `CPU per 1,000 changes: CDC ${(((cpuC1[0]! - cpuC0[0]!) / backlog) * 1000).toFixed(0)} ms, service ${(((cpuC1[1]! - cpuC0[1]!) / backlog) * 1000).toFixed(0)} ms`,
    );

    const at5k = results[0]!;
    const best = results.filter((r) => r.sustained).sort((a, b) => b.achievedOffered - a.achievedOffered)[0];
    console.log('');
    console.log('| offered changes/s | sent changes/s | applied changes/s (in the step) | drained after | p50 lag ms | p99 lag ms | sustained |');
    console.log('|---:|---:|---:|---:|---:|---:|---|');
    for (const r of results) {
      console.log(`| ${r.offered} | ${r.achievedOffered.toFixed(0)} | ${r.appliedPerSecond.toFixed(0)} | ${r.drainMs === null ? '> 15 s' : `${r.drainMs.toFixed(0)} ms`} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.sustained ? 'yes' : 'no'} |`);
    }
    console.log('');
    console.log(`catch-up of a ${backlog}-change backlog: ${catchUp.toFixed(0)} changes/s end to end`);
    console.log(`highest sustained: ${best ? best.achievedOffered.toFixed(0) : 'none'} changes/s (target >= 10000); p99 lag at 5,000/s: ${at5k.p99.toFixed(0)} ms (target <= 500)`);
    console.log(
      JSON.stringify({
        bench: 'cdc',
        changes_per_s: best ? Math.round(best.achievedOffered) : 0,
        p50_lag_ms_at_5k: Math.round(at5k.p50),
        p99_lag_ms_at_5k: Math.round(at5k.p99),
        p50_lag_ms_at_max: best ? Math.round(best.p50) : null,
        p99_lag_ms_at_max: best ? Math.round(best.p99) : null,
        steps: results.map((r) => ({ offered: r.offered, sent: Math.round(r.achievedOffered), applied: Math.round(r.appliedPerSecond), p50_ms: Math.round(r.p50), p99_ms: Math.round(r.p99), drained_ms: r.drainMs === null ? null : Math.round(r.drainMs), enqueue_p50_ms_at_most: r.enqueueP50, enqueue_p99_ms_at_most: r.enqueueP99, sustained: r.sustained, cdc_cpu_ms_per_1k: Math.round(r.cdcCpu), service_cpu_ms_per_1k: Math.round(r.consumerCpu) })),
        catch_up_changes_per_s: Math.round(catchUp),
        rows_per_transaction: ROWS_PER_TXN,
        durable_commits: settings === 'on/on',
        cpu_steal_percent: Number(stealSince(cpuAtStart).toFixed(1)),
        ...machine,
      }),
    );
    await legacy.end();
    await target.end();
  } finally {
    consumer?.kill('SIGTERM');
    await stopAll();
    await services.stop();
  }
}
