import { describe, expect, it } from 'vitest';
import { DEMO_PORTS, pickDemoPorts } from './demo-ports.js';
import { freePort, portAvoiding } from './local-services.js';

describe('ports', () => {
  it('asks again until the port is not one to avoid, and gives up after 20 tries', async () => {
    const offered = [5, 5, 7, 8];
    expect(await portAvoiding(() => offered.shift()!, new Set([5]))).toBe(7);
    let asked = 0;
    await expect(portAvoiding(() => (asked++, 5), new Set([5]))).rejects.toThrow(/no spare port other than 5/);
    expect(asked).toBe(21);
  });

  it('picks the demo ports with no two alike, however often the picker repeats itself', async () => {
    let n = 0;
    // every port offered twice in a row: each second offer is one already taken
    const ports = await pickDemoPorts(() => 40_000 + Math.floor(n++ / 2));
    const values = Object.values(ports);
    expect(values).toHaveLength(Object.keys(DEMO_PORTS).length);
    expect(new Set(values).size).toBe(values.length);
  });

  it('a spare port from the system is never one to avoid', async () => {
    const avoid = new Set<number>();
    for (let i = 0; i < 20; i++) avoid.add(await freePort());
    for (let i = 0; i < 20; i++) expect(avoid.has(await freePort(avoid))).toBe(false);
  });
});
