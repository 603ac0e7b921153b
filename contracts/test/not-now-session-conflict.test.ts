/**
 * A deadlock or serialization failure met by a consumer (40P01, 40001): still retried in place
 * (isUnavailable, NotYetError, no try used up), but logged as a conflict with another session of
 * the database, never as the database "not available", and the watch does not say it waits.
 * The classification is the legacy writer's (isSessionConflict), one for both.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isSessionConflict, isUnavailable, NotNowWatch, NotYetError } from '../src/queues/index.js';

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function watched() {
  const lines: { level: number; msg: string; err?: string; partition?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const watch = new NotNowWatch({ log: pino({ level: 'info' }, sink), what: "the service's database", fields: { topic: 'admissions' } });
  return { watch, lines };
}

describe('a deadlock or serialization failure in a consumer', () => {
  it('is a session conflict, retried as one that cannot be done now', () => {
    for (const code of ['40P01', '40001']) {
      expect(isSessionConflict(pgError(code, 'x'))).toBe(true);
      expect(isUnavailable(pgError(code, 'x'))).toBe(true);
    }
    for (const code of ['08006', '57P01', '55P03', '23505']) expect(isSessionConflict(pgError(code, 'x'))).toBe(false);
    expect(isSessionConflict(new Error('Connection terminated'))).toBe(false);
  });

  it('is logged as a conflict with another session, not as the database not available', async () => {
    const { watch, lines } = watched();
    const thrown = watch.notNow(3, pgError('40P01', 'deadlock detected'));
    expect(thrown).toBeInstanceOf(NotYetError);
    expect(thrown.message).toMatch(/^a job conflicted with another session of the service's database \(deadlock\/serialization\): retried: deadlock detected \(40P01\)/);
    watch.notNow(1, pgError('40001', 'could not serialize access due to concurrent update'));
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg, l.partition, l.err])).toEqual([
      [40, "a job conflicted with another session of the service's database (deadlock/serialization): retried", 3, 'deadlock detected (40P01)'],
      [40, "a job conflicted with another session of the service's database (deadlock/serialization): retried", 1, 'could not serialize access due to concurrent update (40001)'],
    ]);
    expect(lines.filter((l) => /not available/.test(l.msg))).toEqual([]);
    expect(watch.status()).toBeNull();
  });

  it('ends a wait for the database that was there, and a real outage still says it is not available', async () => {
    const { watch, lines } = watched();
    watch.notNow(2, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(watch.status()?.partitions).toEqual([2]);
    watch.notNow(2, pgError('40P01', 'deadlock detected'));
    await new Promise((r) => setImmediate(r));
    expect(watch.status()).toBeNull();
    expect(lines.map((l) => l.msg)).toEqual([
      "the service's database is not available: jobs wait in place, their partitions hold, nothing is dead-lettered",
      "the service's database is available again; the waiting jobs go on",
      "a job conflicted with another session of the service's database (deadlock/serialization): retried",
    ]);
  });
});
