import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FailureStreak, FailureStreaks } from '../src/failure-streak.js';

function capture() {
  const lines: { level: number; msg: string; failures?: number; err?: string; kept?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

describe('FailureStreak', () => {
  it('warns at the first failure and every n-th in a row, and says once when it works again', async () => {
    const { lines, log } = capture();
    const streak = new FailureStreak(log, 'writing traffic counts', 10);
    for (let i = 0; i < 25; i++) streak.failed(new Error('connect ECONNREFUSED'), { kept: i });
    streak.succeeded();
    streak.succeeded();
    streak.failed(new Error('again'));
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg, l.failures])).toEqual([
      [40, 'writing traffic counts failed; trying again', 1],
      [40, 'writing traffic counts failed; trying again', 10],
      [40, 'writing traffic counts failed; trying again', 20],
      [30, 'writing traffic counts works again', 25],
      [40, 'writing traffic counts failed; trying again', 1],
    ]);
    expect(lines[0]).toMatchObject({ err: 'connect ECONNREFUSED', kept: 0 });
    expect(streak.count).toBe(1);
  });

  it('keeps one streak per key: one target failing does not quiet another', async () => {
    const { lines, log } = capture();
    const streaks = new FailureStreaks(log, (target) => `delivery to ${target}`, 5);
    for (let i = 0; i < 4; i++) streaks.of('legacy-hl7').failed(new Error('down'));
    streaks.of('queue:patient-service').failed(new Error('down'));
    expect(streaks.of('legacy-hl7')).toBe(streaks.of('legacy-hl7'));
    expect(streaks.of('legacy-hl7').count).toBe(4);
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual(['delivery to legacy-hl7 failed; trying again', 'delivery to queue:patient-service failed; trying again']);
  });
});
