/**
 * `npm run bench -- <name> [--quick]`: runs one benchmark. The last line printed is one line of JSON.
 *
 * The load generators run in this process, which package.json starts with a 128 MB semi-space
 * and no memory reducer: measured at 5,000 req/s, their own full collections (10-18 ms, every
 * ~9 s, and the idle loader thread's "reduce" collection) otherwise stalled the sending, and the
 * stall counted as latency of whichever target's turn it was.
 */
import { benchCdc } from './cdc.js';
import { benchGateway } from './gateway.js';
import { benchHl7 } from './hl7.js';
import { benchHl7Decode } from './hl7-decode.js';
import { benchMetrics } from './metrics.js';

const benches: Record<string, (args: string[]) => Promise<void>> = {
  cdc: benchCdc,
  gateway: benchGateway,
  hl7: benchHl7,
  'hl7-decode': benchHl7Decode,
  metrics: benchMetrics,
};

const [name, ...args] = process.argv.slice(2);
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--quick]`);
  process.exit(2);
}
try {
  await bench(args);
  process.exit(0);
} catch (e) {
  console.error(`[bench] ${name} failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
}
