/**
 * Order across lanes for a message of several patients. Each patient's messages share a lane
 * and keep their order in it; a message about several patients (a merge, an ORU carrying two
 * patients' results) travels in its first patient's lane, so on its own it could overtake an
 * older message of another of its patients held in that patient's lane (a slow legacy, a result
 * the service holds while it waits for its patient), or be overtaken by a newer one. So it
 * names the others' lanes (after_partitions) and, at each target:
 *
 * - it waits until nothing older is pending in them (Dispatcher.othersFirst) and, to a
 *   service's queue, until the service has finished their jobs there: a job on a queue is
 *   published, not applied;
 * - while it is pending, the newer deliveries of those lanes wait for it (cutAtBarrier); to a
 *   service's queue it stays pending until the service is done with it (applied, or a dead
 *   letter), since a later job of another lane could be applied first.
 *
 * The waits only ever point to older deliveries, so two such messages cannot wait for each other.
 *
 * Finding the pending messages of several patients means reading every pending delivery of the
 * target (no index has after_partitions), which costs with a backlog; so LaneBarriers reads them
 * again only when a round reaches deliveries newer than its last read, and otherwise only asks
 * whether the ones holding a lane are still pending.
 */
import type { DeliveryStore, PendingDelivery } from './delivery-store.js';

/** What an operator sees on a message of several patients held until the service is done with it. */
export const SERVICE_HOLD_NOTE =
  'on the queue; a message of several patients: its lanes wait until the service is done with it (applied or given up), so that none of its patients\' later messages is applied before it';

/**
 * A lane's deliveries before the barrier (the oldest pending message of several patients in
 * another lane that names this one), and whether any were held back by it.
 */
export function cutAtBarrier(list: PendingDelivery[], barrier: number | undefined): { before: PendingDelivery[]; barred: boolean } {
  if (barrier === undefined) return { before: list, barred: false };
  const cut = list.findIndex((d) => d.id > barrier);
  return cut < 0 ? { before: list, barred: false } : { before: list.slice(0, cut), barred: true };
}

interface MultiLane {
  id: number;
  partition: number;
  afterPartitions: number[];
}

/** The barriers of a target's lanes, kept while its worker runs (Dispatcher.workTarget). */
export class LaneBarriers {
  private upTo = -1;
  private multi: MultiLane[] = [];

  constructor(
    private readonly store: Pick<DeliveryStore, 'multiLanePending' | 'stillPending'>,
    private readonly target: string,
  ) {}

  /** Per lane, the oldest pending message of several patients in another lane that names it, for a round's deliveries. */
  async forRound(batch: readonly PendingDelivery[]): Promise<ReadonlyMap<number, number>> {
    if (batch.length === 0) return new Map();
    if (batch.some((d) => d.id > this.upTo)) {
      const read = await this.store.multiLanePending(this.target);
      this.upTo = read.upTo;
      this.multi = read.deliveries;
    } else {
      // the barriers that would hold this round: delivered since, they hold nothing
      const barriers = this.barriers();
      const holding = [...new Set(batch.map((d) => barriers.get(d.partition)).filter((b, i): b is number => b !== undefined && batch[i]!.id > b))];
      if (holding.length > 0) {
        const pending = await this.store.stillPending(holding);
        this.multi = this.multi.filter((m) => !holding.includes(m.id) || pending.has(m.id));
      }
    }
    return this.barriers();
  }

  private barriers(): Map<number, number> {
    const out = new Map<number, number>();
    for (const m of this.multi) {
      for (const p of m.afterPartitions) {
        const known = out.get(p);
        if (p !== m.partition && (known === undefined || m.id < known)) out.set(p, m.id);
      }
    }
    return out;
  }
}
