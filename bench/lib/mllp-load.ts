/**
 * HL7 senders for benchmarks: each keeps its connection and sends the next message when the
 * previous one is acknowledged (or, for peers that mishandle kept-open connections, opens a
 * fresh connection per message). Latency is from the write of a message to its ACK.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';

export interface LoadResult {
  messages: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export function adtMessage(controlId: string, mrn: string): Buffer {
  return Buffer.from(
    [
      `MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||ADT^A08^ADT_A01|${controlId}|P|2.5`,
      'EVN|A08|20240701083000|||REGCLK02',
      `PID|1||${mrn}^^^GENHOSP^MR||SYNTHETIC^PATIENT^Q^^^^L||19700101|F|||12 HARBOUR RD^^SPRINGFIELD^IL^62701^USA^H||217-555-0142^PRN^PH|||M||V${mrn}|||||||||||N`,
      'PD1|||GENERAL HOSPITAL^^1001',
      'PV1|1|I|MED1^101^A^GENHOSP||||D12345^DOCTOR^TEST^^^DR|||MED||||ADM|||D12345^DOCTOR^TEST^^^DR|IN||SELF|||||||||||||||||||GENHOSP||ADM|||20240701080000',
      'AL1|1|DA|70618^PENICILLIN^RXNORM|SV|HIVES',
      'DG1|1||R07.9^CHEST PAIN, UNSPECIFIED^I10|||A',
    ].join('\r') + '\r',
  );
}

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

function summarise(latencies: number[], seconds: number, errors: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { messages: latencies.length, seconds, perSecond: latencies.length / seconds, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), errors };
}

class AckReader {
  private readonly decoder = new MllpDecoder();
  private waiter: (() => void) | undefined;
  private frames = 0;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk)) if (e.type === 'frame') this.frames++;
      if (this.frames > 0) this.waiter?.();
    });
  }

  next(): Promise<void> {
    if (this.frames > 0) {
      this.frames--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiter = () => {
        this.waiter = undefined;
        this.frames--;
        resolve();
      };
    });
  }
}

const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', reject);
  });

/** `connections` senders on kept-open connections, for `seconds`. */
export async function keptOpen(port: number, connections: number, seconds: number, tag: string): Promise<LoadResult> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const socket = await open(port);
      const acks = new AckReader(socket);
      while (performance.now() < end) {
        const i = n++;
        const t = performance.now();
        socket.write(encodeFrame(adtMessage(`${tag}-${c}-${i}`, String(100_000 + (i % 50_000)))));
        await acks.next();
        latencies.push(performance.now() - t);
      }
      socket.end();
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, 0);
}

/** `senders` in parallel, each opening a fresh connection per message. */
export async function freshConnections(port: number, senders: number, seconds: number, tag: string): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, c) => {
      while (performance.now() < end) {
        const i = n++;
        const t = performance.now();
        try {
          const socket = await open(port);
          const acks = new AckReader(socket);
          socket.write(encodeFrame(adtMessage(`${tag}-${c}-${i}`, String(100_000 + (i % 50_000)))));
          await acks.next();
          latencies.push(performance.now() - t);
          socket.destroy();
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}
