import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConnectionGate, type GateWaiter } from './connection-gate.js';

function waiter(log: string[], name: string): GateWaiter {
  return { admitted: () => log.push(`${name} in`), queueTimedOut: () => log.push(`${name} timed out`) };
}

describe('the connection gate', () => {
  it('lets requests in while slots are free, then queues them first come first served', async () => {
    const gate = new ConnectionGate(2, 1_000);
    const log: string[] = [];
    expect(gate.tryEnter(false)).toBe(true);
    expect(gate.tryEnter(false)).toBe(true);
    expect(gate.tryEnter(false)).toBe(false);
    gate.wait(false, waiter(log, 'a'));
    gate.wait(false, waiter(log, 'b'));
    expect(gate.waiting).toBe(2);
    gate.leave(false);
    // a newcomer does not overtake those waiting
    expect(gate.tryEnter(false)).toBe(false);
    await sleep(0);
    expect(log).toEqual(['a in']);
    gate.leave(false);
    await sleep(0);
    expect(log).toEqual(['a in', 'b in']);
    expect(gate.inUse).toBe(2);
  });

  it('gives a waiting request up after queueMs, and drops one whose client left', async () => {
    const gate = new ConnectionGate(1, 50);
    const log: string[] = [];
    gate.tryEnter(false);
    const gone = gate.wait(false, waiter(log, 'gone'));
    gate.wait(false, waiter(log, 'late'));
    gate.cancel(gone);
    await sleep(120);
    expect(log).toEqual(['late timed out']);
    expect(gate.waiting).toBe(0);
    gate.leave(false);
    await sleep(0);
    expect(log).toEqual(['late timed out']);
    expect(gate.inUse).toBe(0);
  });

  it('keeps streamed uploads to half of the slots; others pass them by', async () => {
    const gate = new ConnectionGate(4, 1_000);
    const log: string[] = [];
    expect(gate.streamingLimit).toBe(2);
    expect(gate.tryEnter(true)).toBe(true);
    expect(gate.tryEnter(true)).toBe(true);
    expect(gate.tryEnter(true)).toBe(false);
    gate.wait(true, waiter(log, 'upload'));
    expect(gate.tryEnter(false)).toBe(true);
    expect(gate.tryEnter(false)).toBe(true);
    gate.wait(false, waiter(log, 'get'));
    // a plain slot frees: the GET gets it, the upload still may not
    gate.leave(false);
    await sleep(0);
    expect(log).toEqual(['get in']);
    // an upload ends: the waiting upload takes its slot
    gate.leave(true);
    await sleep(0);
    expect(log).toEqual(['get in', 'upload in']);
    for (const t of [true, true, false, false]) gate.leave(t);
    expect(gate.inUse).toBe(0);
    expect(new ConnectionGate(1, 1).streamingLimit).toBe(1);
  });

  it('hands every waiting request on when its upstream closes', () => {
    const gate = new ConnectionGate(1, 1_000);
    const log: string[] = [];
    gate.tryEnter(false);
    gate.wait(true, waiter(log, 'a'));
    gate.wait(false, waiter(log, 'b'));
    gate.flush();
    expect(log).toEqual(['a in', 'b in']);
    expect(gate.waiting).toBe(0);
  });

  it('lets shadow copies take only spare slots, up to an eighth of the pool, and never queues them', () => {
    const gate = new ConnectionGate(16, 1_000);
    expect(gate.shadowLimit).toBe(2);
    expect(new ConnectionGate(2, 1).shadowLimit).toBe(1);
    const a = gate.tryEnterShadow(() => undefined);
    const b = gate.tryEnterShadow(() => undefined);
    expect(a && b).toBeTruthy();
    // the shadows' share is used: skipped, while real requests still get in
    expect(gate.tryEnterShadow(() => undefined)).toBeUndefined();
    expect(gate.tryEnter(false)).toBe(true);
    gate.leaveShadow(a!);
    gate.leaveShadow(a!); // once only
    expect(gate.shadowsInUse).toBe(1);
    expect(gate.inUse).toBe(2);
    // a full pool, or anyone waiting: skipped
    const full = new ConnectionGate(1, 1_000);
    full.tryEnter(false);
    expect(full.tryEnterShadow(() => undefined)).toBeUndefined();
    expect(full.waiting).toBe(0);
  });

  it('a real request that finds every slot taken preempts the oldest shadow copy and gets its slot', async () => {
    const gate = new ConnectionGate(2, 1_000);
    const log: string[] = [];
    const copy = gate.tryEnterShadow(() => log.push('copy preempted'))!;
    expect(gate.tryEnter(false)).toBe(true);
    // a slot is free for nobody else now: the copy is told at once, the request waits for its slot
    gate.wait(false, waiter(log, 'get'));
    expect(log).toEqual(['copy preempted']);
    expect(copy.preempted).toBe(true);
    gate.wait(false, waiter(log, 'second')); // no other copy to preempt: waits as ever
    expect(log).toEqual(['copy preempted']);
    gate.leaveShadow(copy);
    await sleep(0);
    expect(log).toEqual(['copy preempted', 'get in']);
    expect(gate.shadowsInUse).toBe(0);
    expect(gate.inUse).toBe(2);
  });
});
