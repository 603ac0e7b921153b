/**
 * How fast this machine hands a message from one process to another right now: round trips of
 * one byte over loopback TCP between this process and a child, for half a second. Every
 * benchmark here is made of such hops (sender → adapter → PostgreSQL → adapter → sender), and on
 * this shared VM their cost moves from hour to hour while the hypervisor's steal stays at 0 (the
 * CDC catch-up ran at 13,719 changes/s one night and 7,678 the next with no steal either time).
 * Printed with each run so that runs on different days can be compared.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

const SERVE = '--loopback-probe-echo';

if (process.argv.includes(SERVE)) {
  const server = net.createServer((c) => {
    c.setNoDelay(true);
    c.on('data', (d) => c.write(d));
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

/** Microseconds per round trip (median of three 0.5 s runs). */
export async function loopbackRoundTripMicros(): Promise<number> {
  // the child runs as this process does (under tsx: execArgv is inherited)
  const child = fork(new URL(import.meta.url).pathname, [SERVE], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(m as number));
      child.once('exit', (code) => reject(new Error(`the loopback probe's echo exited (${code})`)));
    });
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await oneRun(port, 500));
    return runs.sort((a, b) => a - b)[1]!;
  } finally {
    child.disconnect();
    child.kill();
  }
}

function oneRun(port: number, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.setNoDelay(true);
      let trips = 0;
      const start = process.hrtime.bigint();
      const end = start + BigInt(ms) * 1_000_000n;
      socket.on('data', () => {
        trips++;
        const now = process.hrtime.bigint();
        if (now < end) {
          socket.write('x');
          return;
        }
        socket.destroy();
        resolve(Number(now - start) / 1_000 / trips);
      });
      socket.write('x');
    });
    socket.on('error', reject);
  });
}

export interface MachineFacts {
  cpus: number;
  node: string;
  /** loopbackRoundTripMicros() when the benchmark started */
  loopback_rtt_us: number;
}

/** What each benchmark's JSON line says of the machine; measured before anything else starts. */
export async function machineFacts(): Promise<MachineFacts> {
  const rtt = await loopbackRoundTripMicros();
  console.error(`[bench] ${os.cpus().length} CPUs, Node ${process.version}; a loopback TCP round trip between two processes takes ${rtt.toFixed(1)} µs now`);
  return { cpus: os.cpus().length, node: process.version, loopback_rtt_us: Number(rtt.toFixed(1)) };
}
