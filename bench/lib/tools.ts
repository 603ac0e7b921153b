/** The benchmarks' external tools come from the shared installer (scripts/lib/tools.ts). */
export { ensureTools } from '../../scripts/lib/tools.js';
