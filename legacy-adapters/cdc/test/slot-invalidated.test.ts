/**
 * A replication slot the server invalidated (its WAL exceeded max_slot_wal_keep_size while the
 * reader was stopped) can never be read again: the source stops as for a dropped slot, saying
 * why and that CDC_RESNAPSHOT=true recovers, instead of reconnecting for ever; and a restart
 * with CDC_RESNAPSHOT=true streams again. The server is the test's own, as the setting is the
 * whole server's and would invalidate other tests' slots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../../../scripts/lib/local-services.js';
import { startScene, until, VIEWER_TOKEN, type Scene } from './support/cdc-scene.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface SourceAnswer {
  state: string;
  error?: string;
}

async function slotStatus(s: Scene): Promise<string | null> {
  const { rows } = await s.legacyPool.query<{ wal_status: string | null }>('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [s.slot]);
  return rows[0]?.wal_status ?? null;
}

describe('a replication slot invalidated by max_slot_wal_keep_size', () => {
  it('stops the source for a person, naming the cause and CDC_RESNAPSHOT=true, which recovers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-slot-lost-'));
    const server: PrivatePostgres = await startPostgres(dir, () => undefined);
    cleanups.push(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const s = await startScene({ name: 'slot_lost', seedPatients: 5, server: server.url });
    cleanups.push(() => s.close());
    const first = await s.start();

    await s.legacyPool.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await s.legacyPool.query('SELECT pg_reload_conf()');
    // the reader stops answering (as a process stopped by SIGSTOP, a host paused): WAL piles up behind its slot
    first.child.kill('SIGSTOP');
    try {
      for (let i = 0; (await slotStatus(s)) !== 'lost'; i++) {
        if (i > 40) throw new Error(`the slot was not invalidated (wal_status ${await slotStatus(s)})`);
        await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = CITY_NM");
        await s.legacyPool.query('SELECT pg_switch_wal()');
        await s.legacyPool.query('CHECKPOINT');
      }
    } finally {
      first.child.kill('SIGCONT');
    }

    const ready = await until(async () => {
      const r = await fetch(`${first.url}/readyz`);
      const body = (await r.json()) as { sources: SourceAnswer[] };
      return r.status === 503 && /invalidated/.test(body.sources[0]?.error ?? '') && body;
    }, 'readiness to turn false for the invalidated slot');
    expect(ready.sources[0]).toMatchObject({ state: 'error' });
    expect(ready.sources[0]!.error).toMatch(new RegExp(`replication slot ${s.slot} was invalidated by the server \\(it exceeded max_slot_wal_keep_size\\).*CDC_RESNAPSHOT=true`));
    const status = (await (await fetch(`${first.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).json()) as { sources: SourceAnswer[] };
    expect(status.sources[0]).toMatchObject({ state: 'error', error: expect.stringContaining('CDC_RESNAPSHOT=true') });
    expect(await (await fetch(`${first.url}/metrics`)).text()).toMatch(/ficus_cdc_source_fatal_errors_total\{source="legacy-pg"\} 1/);
    expect(first.output()).toMatch(/"level":"error".*invalidated by the server.*CDC source stopped: this needs a person|"level":"error".*CDC source stopped: this needs a person.*invalidated by the server/);

    // stopped for good: no reconnect follows (they came every ~2 s)
    const retries = (first.output().match(/CDC source interrupted; reconnecting/g) ?? []).length;
    await sleep(5_000);
    expect((first.output().match(/CDC source interrupted; reconnecting/g) ?? []).length).toBe(retries);
    await first.stop();

    // the recovery the message names: a new slot and snapshot, then streaming
    await s.legacyPool.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
    await s.legacyPool.query('SELECT pg_reload_conf()');
    const second = await s.start({ CDC_RESNAPSHOT: 'true' });
    expect(await slotStatus(s)).not.toBe('lost');
    const body = (await (await fetch(`${second.url}/readyz`)).json()) as { sources: SourceAnswer[] };
    expect(body.sources[0]).toMatchObject({ state: 'streaming' });
    await second.stop();
  });
});
