/**
 * `ficus parity --window`: its help listed 15m, 1h, 7d as if those were the windows, while its
 * own example used 24h and any number of minutes, hours or days is taken; a window it cannot
 * take ended as "unexpected error" (exit 1). Help and behaviour agree now, and a bad window is a
 * usage error (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_parity_window');
});
afterAll(async () => {
  await s?.close();
});

describe('ficus parity --window', () => {
  it('says in its help that any whole number of m, h or d is a window, and takes one', async () => {
    const [help, twoHours, day] = await Promise.all([s.ficus(['parity', '--help']), s.ficus(['parity', '--window', '2h', '--json']), s.ficus(['parity', 'patients-read', '--window', '24h', '--json'])]);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('any whole number of minutes, hours or days, as 15m, 2h, 24h, 7d');
    expect(text).toContain('ficus parity patients-read --window 2h');
    expect(twoHours.code, twoHours.stderr).toBe(0);
    expect(parse<{ rule: string; window: string }[]>(twoHours).every((r) => r.window === '2h')).toBe(true);
    expect(day.code, day.stderr).toBe(0);
  });

  it('refuses a window it cannot take as a usage error', async () => {
    for (const bad of ['2x', '0h', '1.5h']) {
      const r = await s.ficus(['parity', '--window', bad]);
      expect(r.code, `${bad}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`"${bad}" is not a window: a whole number (1-999999) and m, h or d, as 15m, 2h, 24h, 7d`);
    }
  });
});
