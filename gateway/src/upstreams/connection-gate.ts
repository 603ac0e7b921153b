/**
 * The gateway's own queue in front of an upstream's connection pool.
 *
 * undici's Pool queues a request it has no free connection for without any deadline
 * (`headersTimeout` starts only once the request is written), and a queued request cannot be
 * taken back out: a nurse's GET waited for ever behind uploads trickling in from slow clients,
 * and a request whose client had left was still sent later. So the exchange takes a slot here
 * first, and undici is handed at most as many requests as the pool has connections:
 *
 * - a slot is free: taken at once (the hot path: a compare and an increment);
 * - none is: the request waits here, first come first served, for at most `queueMs`
 *   (then the exchange answers 503 upstream-busy or falls back to legacy), and is dropped from
 *   the queue the moment its client goes away;
 * - bulkhead: request bodies streamed as they arrive (those too large to be read first, see
 *   proxy/request-buffer.ts) hold a connection for as long as their client takes to send, so
 *   they may hold at most half of the slots; the others stay for everyone else.
 *
 * Shadow copies take a slot too, but only the spare capacity: one is let in only while a slot is
 * free at once, nobody waits, and shadows hold fewer than `shadowLimit` (an eighth of the pool);
 * else the copy is skipped, never queued. A real request that has to wait while shadows hold
 * slots preempts the oldest one (aborted; its slot is the waiter's as soon as undici lets go,
 * a few milliseconds), so a shadow never keeps real traffic waiting for its answer or for
 * `queueMs`. The limit keeps most slots free of copies, so preempting stays rare (a preempted
 * copy's connection is closed by the abort). Before, copies went to undici without a slot,
 * and a gated request queued inside undici behind them for as long as they took (up to the
 * copy's timeout). Health checks do not use the pool at all (health-check.ts).
 */

/** What waits for a slot: told when it has one, or when the deadline passed first. */
export interface GateWaiter {
  admitted(): void;
  queueTimedOut(): void;
}

export interface GateTicket {
  readonly waiter: GateWaiter;
  readonly streaming: boolean;
  readonly seq: number;
  timer: NodeJS.Timeout | undefined;
}

/** A shadow copy holding a slot (tryEnterShadow); `preempt` aborts it when real traffic needs it. */
export interface ShadowSlot {
  readonly preempt: () => void;
  preempted: boolean;
  left: boolean;
}

function expire(gate: ConnectionGate, ticket: GateTicket): void {
  gate.expired(ticket);
}

function oldest<T>(set: Set<T>): T | undefined {
  for (const t of set) return t;
  return undefined;
}

export class ConnectionGate {
  /** requests holding a slot: handed to undici and not ended yet */
  private active = 0;
  /** of which streaming uploads */
  private streamingActive = 0;
  /** waiting tickets in arrival order (a Set keeps insertion order and deletes in O(1)) */
  private readonly plain = new Set<GateTicket>();
  private readonly streams = new Set<GateTicket>();
  /** shadow copies holding a slot, oldest first; preempted ones leave the set at once */
  private readonly shadows = new Set<ShadowSlot>();
  private shadowActive = 0;
  private seq = 0;
  private scheduled = false;
  readonly streamingLimit: number;
  /** most slots shadow copies may hold at once */
  readonly shadowLimit: number;

  constructor(
    readonly capacity: number,
    /** the deadline of a waiting request; changes with the rules */
    public queueMs: number,
  ) {
    this.streamingLimit = Math.max(1, Math.floor(capacity / 2));
    this.shadowLimit = Math.max(1, Math.floor(capacity / 8));
  }

  /** slots held by shadow copies (preempted ones included until undici lets go) */
  get shadowsInUse(): number {
    return this.shadowActive;
  }

  /** requests waiting for a slot (for /metrics) */
  get waiting(): number {
    return this.plain.size + this.streams.size;
  }

  /** requests holding a slot */
  get inUse(): number {
    return this.active;
  }

  /** Takes a slot if one is free and no earlier request waits for it. */
  tryEnter(streaming: boolean): boolean {
    if (this.active >= this.capacity || this.plain.size > 0) return false;
    if (streaming) {
      if (this.streamingActive >= this.streamingLimit || this.streams.size > 0) return false;
      this.streamingActive++;
    }
    this.active++;
    return true;
  }

  /**
   * A slot for a shadow copy, or undefined (the copy is skipped): only a slot free at once, with
   * nobody waiting and fewer than `shadowLimit` held by shadows. `preempt` is called (once) when
   * a real request needs the slot; the copy must then end and `leaveShadow`.
   */
  tryEnterShadow(preempt: () => void): ShadowSlot | undefined {
    if (this.active >= this.capacity || this.waiting > 0 || this.shadowActive >= this.shadowLimit) return undefined;
    const slot: ShadowSlot = { preempt, preempted: false, left: false };
    this.shadows.add(slot);
    this.shadowActive++;
    this.active++;
    return slot;
  }

  /** A shadow copy ended (answered, failed, timed out or preempted): its slot is free. */
  leaveShadow(slot: ShadowSlot): void {
    if (slot.left) return;
    slot.left = true;
    this.shadows.delete(slot);
    this.shadowActive--;
    this.leave(false);
  }

  /** Queues `waiter` until a slot is free (`admitted`) or `queueMs` has passed (`queueTimedOut`). */
  wait(streaming: boolean, waiter: GateWaiter): GateTicket {
    const ticket: GateTicket = { waiter, streaming, seq: ++this.seq, timer: undefined };
    ticket.timer = setTimeout(expire, this.queueMs, this, ticket);
    (streaming ? this.streams : this.plain).add(ticket);
    // every slot is taken: one held by a shadow copy is this waiter's (each waiter frees at most one)
    if (this.active >= this.capacity) this.preemptOldestShadow();
    return ticket;
  }

  private preemptOldestShadow(): void {
    const slot = oldest(this.shadows);
    if (!slot) return;
    this.shadows.delete(slot);
    slot.preempted = true;
    slot.preempt();
  }

  /** A waiting request whose client went away: it is never sent. */
  cancel(ticket: GateTicket): void {
    clearTimeout(ticket.timer);
    (ticket.streaming ? this.streams : this.plain).delete(ticket);
  }

  /** @internal the deadline of `ticket` passed */
  expired(ticket: GateTicket): void {
    if (!(ticket.streaming ? this.streams : this.plain).delete(ticket)) return;
    ticket.waiter.queueTimedOut();
  }

  /** Gives a slot back (the request ended, whatever way). */
  leave(streaming: boolean): void {
    this.active--;
    if (streaming) this.streamingActive--;
    if (!this.scheduled && (this.plain.size > 0 || this.streams.size > 0)) {
      // admitted from a microtask: undici calls this from inside its own callbacks, and a
      // dispatch that fails at once would otherwise recurse through every waiter
      this.scheduled = true;
      queueMicrotask(() => this.admitWaiting());
    }
  }

  private admitWaiting(): void {
    this.scheduled = false;
    while (this.active < this.capacity) {
      const p = oldest(this.plain);
      const s = this.streamingActive < this.streamingLimit ? oldest(this.streams) : undefined;
      const next = p && s ? (p.seq < s.seq ? p : s) : (p ?? s);
      if (!next) return;
      this.admit(next);
    }
  }

  private admit(ticket: GateTicket): void {
    clearTimeout(ticket.timer);
    (ticket.streaming ? this.streams : this.plain).delete(ticket);
    this.active++;
    if (ticket.streaming) this.streamingActive++;
    ticket.waiter.admitted();
  }

  /**
   * The upstream is being closed (a rule change replaced it): every waiting request is handed
   * to the pool now, whose close() lets queued requests finish before the sockets go.
   */
  flush(): void {
    for (const t of [...this.plain, ...this.streams].sort((a, b) => a.seq - b.seq)) this.admit(t);
  }
}
