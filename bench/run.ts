/**
 * `npm run bench -- <name> [--quick]`: runs one benchmark. The last line printed is one line of JSON.
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
