/**
 * An extracted service's mark on an answer it refuses because its copy of the data is not fresh
 * (service-kit stale-reads.ts): `x-ficus-stale` on a 503. The exchange answers such a safe
 * request from legacy, which has the fresh data, and counts no failure against the service's
 * circuit: the service is up and said so honestly.
 */
const STALE_HEADER = 'x-ficus-stale';

/** Whether undici's raw header list (name, value, ...) carries the mark. */
export function staleMarked(rawHeaders: Buffer[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === STALE_HEADER.length && name.toString('latin1').toLowerCase() === STALE_HEADER) return true;
  }
  return false;
}
