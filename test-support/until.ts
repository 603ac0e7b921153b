/**
 * Polls (every 50 ms) until `check` answers something truthy, and answers it; fails after `ms`
 * with what was awaited. For work that finishes asynchronously after the call that started it
 * (a queue applied, an adapter delivering after its ACK).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
