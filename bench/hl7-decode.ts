/**
 * `npm run bench -- hl7-decode [sample.hl7]`: the receive path for one message, in one process:
 * MLLP decoding, message decoding (with the header and PID-3 the adapter routes and stores
 * by), ACK building, and the whole of it; beside it node-hl7-client (the library the decoder
 * parses with) reading the same header fields and PID-3 through its own nodes. Rates depend on
 * the machine: compare only within one run.
 */
import { performance } from 'node:perf_hooks';
import { Message } from 'node-hl7-client';
import { buildAck, decodeMessage, encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';
import { sampleBytes } from '../test-support/hl7-samples.js';

/** messages per second of `run` over about `ms`, after a warm-up */
function rate(run: () => void, ms: number): number {
  for (let i = 0; i < 2_000; i++) run();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (let i = 0; i < 100; i++) run();
    n += 100;
  }
  return n / ((performance.now() - started) / 1000);
}

/** the fields the adapter reads of every message, as node-hl7-client gives them */
const HEADER_PATHS = ['MSH.3.1', 'MSH.4.1', 'MSH.5.1', 'MSH.6.1', 'MSH.7.1', 'MSH.9.1', 'MSH.9.2', 'MSH.10.1', 'MSH.11.1', 'MSH.12.1', 'MSH.15.1', 'MSH.16.1', 'MSH.18.1', 'PID.3.1', 'PID.3.4'];

export async function benchHl7Decode(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const name = args.find((a) => a.endsWith('.hl7')) ?? 'ADT-A01-01.hl7';
  const ms = quick ? 500 : 2_000;
  const bytes = sampleBytes(name);
  const frame = encodeFrame(bytes);
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) throw new Error(`${name} does not decode: ${decoded.error.message}`);
  const text = decoded.message.text;
  console.error(`[bench] ${name}: ${bytes.length} bytes, ${decoded.message.segmentIds.length} segments; Node ${process.version}`);

  const mllp = new MllpDecoder();
  const rows: [string, number][] = [
    ['MLLP decode (one frame per push)', rate(() => void mllp.push(frame), ms)],
    ['Ficus decodeMessage (header, PID-3)', rate(() => void decodeMessage(bytes), ms)],
    ['node-hl7-client parse + the same fields', rate(() => {
      const m = new Message({ text });
      for (const p of HEADER_PATHS) void m.get(p).toString();
    }, ms)],
    ['Ficus buildAck', rate(() => void buildAck(decoded.message, 'AA'), ms)],
    ['Ficus frame + decode + ACK + frame', rate(() => {
      for (const e of mllp.push(frame)) {
        if (e.type !== 'frame') continue;
        const r = decodeMessage(e.payload);
        if (!r.ok) throw new Error(r.error.message);
        void encodeFrame(buildAck(r.message, 'AA').bytes);
      }
    }, ms)],
  ];
  const ficus = rows[1]![1];
  const library = rows[2]![1];
  console.log('');
  console.log('| step | messages/s | µs per message |');
  console.log('|---|---:|---:|');
  for (const [label, perSecond] of rows) console.log(`| ${label} | ${Math.round(perSecond).toLocaleString('en')} | ${(1e6 / perSecond).toFixed(1)} |`);
  console.log('');
  console.log(`Ficus decodeMessage ÷ node-hl7-client reading the same fields: ${(ficus / library).toFixed(2)}`);
  console.log(
    JSON.stringify({
      bench: 'hl7-decode',
      sample: name,
      bytes: bytes.length,
      mllp_decode_per_s: Math.round(rows[0]![1]),
      decode_per_s: Math.round(ficus),
      node_hl7_client_per_s: Math.round(library),
      ficus_vs_node_hl7_client: Number((ficus / library).toFixed(2)),
      ack_per_s: Math.round(rows[3]![1]),
      receive_path_per_s: Math.round(rows[4]![1]),
      node: process.version,
    }),
  );
}
