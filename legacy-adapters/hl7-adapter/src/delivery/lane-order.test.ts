import { describe, expect, it } from 'vitest';
import type { PendingDelivery } from './delivery-store.js';
import { cutAtBarrier, LaneBarriers } from './lane-order.js';

const delivery = (id: number, partition: number): PendingDelivery =>
  ({ id, partition, afterPartitions: [] }) as unknown as PendingDelivery;

/** A store of pending messages of several patients, counting its reads. */
function fakeStore(multi: { id: number; partition: number; afterPartitions: number[] }[], upTo: () => number) {
  const pending = new Set(multi.map((m) => m.id));
  const calls = { full: 0, checks: 0 };
  return {
    calls,
    deliver: (id: number) => pending.delete(id),
    store: {
      multiLanePending: async () => {
        calls.full++;
        return { upTo: upTo(), deliveries: multi.filter((m) => pending.has(m.id)) };
      },
      stillPending: async (ids: number[]) => {
        calls.checks++;
        return new Set(ids.filter((id) => pending.has(id)));
      },
    },
  };
}

describe('lane barriers', () => {
  it("holds a lane's deliveries newer than the oldest pending message of several patients naming it, from another lane", async () => {
    const f = fakeStore(
      [
        { id: 10, partition: 1, afterPartitions: [2, 3] },
        { id: 7, partition: 4, afterPartitions: [2] },
        // its own lane is never its barrier
        { id: 5, partition: 3, afterPartitions: [3] },
      ],
      () => 20,
    );
    const b = await new LaneBarriers(f.store, 'legacy:x').forRound([delivery(11, 2)]);
    expect([...b].sort()).toEqual([
      [2, 7],
      [3, 10],
    ]);
    expect(cutAtBarrier([delivery(6, 2), delivery(8, 2), delivery(9, 2)], b.get(2))).toEqual({ before: [delivery(6, 2)], barred: true });
    expect(cutAtBarrier([delivery(6, 5)], b.get(5))).toEqual({ before: [delivery(6, 5)], barred: false });
  });

  it('reads every pending one again only when a round reaches deliveries newer than its last read; else asks only whether the holding ones are still pending', async () => {
    let newest = 20;
    const f = fakeStore([{ id: 10, partition: 1, afterPartitions: [2] }], () => newest);
    const barriers = new LaneBarriers(f.store, 'legacy:x');
    expect((await barriers.forRound([delivery(3, 2)])).get(2)).toBe(10);
    expect(f.calls).toEqual({ full: 1, checks: 0 });
    // nothing held: no question asked
    expect((await barriers.forRound([delivery(4, 2), delivery(12, 5)])).get(2)).toBe(10);
    expect(f.calls).toEqual({ full: 1, checks: 0 });
    // held: is the barrier still pending? yes
    expect((await barriers.forRound([delivery(11, 2)])).get(2)).toBe(10);
    expect(f.calls).toEqual({ full: 1, checks: 1 });
    // delivered since: the lane goes on
    f.deliver(10);
    expect((await barriers.forRound([delivery(11, 2)])).has(2)).toBe(false);
    expect(f.calls).toEqual({ full: 1, checks: 2 });
    // a delivery newer than the last read: read again
    newest = 30;
    await barriers.forRound([delivery(25, 2)]);
    expect(f.calls).toEqual({ full: 2, checks: 2 });
  });
});
