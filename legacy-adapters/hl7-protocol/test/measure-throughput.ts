/**
 * Rough throughput of the receive path for one message, on this machine:
 *   npx tsx --conditions=ficus-source legacy-adapters/hl7-protocol/test/measure-throughput.ts [sample.hl7]
 * Not a test: numbers depend on the machine. Prints messages per second for MLLP decoding,
 * message decoding, ACK building, and the three together.
 */
import { buildAck, decodeMessage, encodeFrame, MllpDecoder } from '../src/index.js';
import { sample } from './support/samples.js';

const name = process.argv[2] ?? 'ADT-A01-01.hl7';
const bytes = sample(name);
const frame = encodeFrame(bytes);

function rate(label: string, run: () => void): void {
  for (let i = 0; i < 2000; i++) run(); // warm-up
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < 2000) {
    for (let i = 0; i < 100; i++) run();
    n += 100;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label.padEnd(34)} ${Math.round(n / seconds).toLocaleString('en').padStart(9)} msg/s  ${((seconds / n) * 1e6).toFixed(1)} µs/msg`);
}

console.log(`${name}: ${bytes.length} bytes, node ${process.version}`);
const mllp = new MllpDecoder();
rate('MLLP decode (one frame per push)', () => void mllp.push(frame));
rate('decodeMessage', () => void decodeMessage(bytes));
const decoded = decodeMessage(bytes);
if (!decoded.ok) throw new Error(decoded.error.message);
rate('buildAck (with bytes)', () => void buildAck(decoded.message, 'AA'));
rate('frame + decode + header + ACK', () => {
  for (const e of mllp.push(frame)) {
    if (e.type !== 'frame') continue;
    const r = decodeMessage(e.payload);
    if (!r.ok) throw new Error(r.error.message);
    void r.message.patientId;
    void encodeFrame(buildAck(r.message, 'AA').bytes);
  }
});
