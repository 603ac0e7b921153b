/**
 * FICUS_ADMIN_TOKEN on a real rule store: a new value revokes the token the environment gave
 * before (audited, logged without the secret), even when it was the last admin token; an old
 * value does not come back; tokens made otherwise are left alone; replicas starting together
 * with one value store it once.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openStore, type OpenStore } from '../src/control-plane/open-store.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const RULES = path.resolve(import.meta.dirname, '../../routing-rules');
const DEMO = 'ficus-demo-admin-token-replace-me';
const ROTATED = 'rotated-admin-token-2';

let db: TestDatabase;
const opened: OpenStore[] = [];

beforeEach(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'env_admin_token');
});
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
  await db.drop();
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

async function start(adminToken: string | undefined, log = capture().log): Promise<OpenStore> {
  const o = await openStore({ url: db.url, rulesDir: RULES, stateDir: mkdtempSync(path.join(tmpdir(), 'ficus-env-token-')), adminToken, log });
  opened.push(o);
  return o;
}

const active = async (o: OpenStore) => (await o.tokens.list()).filter((t) => !t.revokedAt);

describe('the admin token from FICUS_ADMIN_TOKEN', () => {
  it('a new value revokes the one the environment gave before, under the same name, though it was the last admin token; audited, logged without the secret', async () => {
    const first = await start(DEMO);
    const demo = (await first.tokens.verify(DEMO))!;
    expect(demo).toMatchObject({ name: 'first-admin', role: 'admin' });
    expect(await active(first)).toHaveLength(1);

    const { log, lines } = capture();
    const second = await start(ROTATED, log);
    expect(await second.tokens.verify(DEMO)).toBeUndefined();
    const rotated = (await second.tokens.verify(ROTATED))!;
    expect(rotated).toMatchObject({ name: 'first-admin', role: 'admin' });
    expect((await active(second)).map((t) => t.id)).toEqual([rotated.id]);
    expect((await second.tokens.list()).find((t) => t.id === demo.id)).toMatchObject({ revokedBy: 'FICUS_ADMIN_TOKEN' });

    const audit = await second.audit.query({ actor: 'FICUS_ADMIN_TOKEN' });
    expect(audit.map((e) => [e.action, e.target, e.outcome])).toEqual(
      expect.arrayContaining([
        ['tokens.revoke', `token ${demo.id}`, 'ok'],
        ['tokens.create', 'token first-admin', 'ok'],
      ]),
    );
    expect(audit.find((e) => e.action === 'tokens.revoke')).toMatchObject({ auth: 'environment', detail: { name: 'first-admin', replacedBy: rotated.id } });

    const said = lines.map((l) => JSON.parse(l) as { msg: string; revokedIds?: number[] });
    expect(said.find((l) => l.msg.startsWith('FICUS_ADMIN_TOKEN changed'))).toMatchObject({ revokedIds: [demo.id], tokenId: rotated.id });
    for (const secret of [ROTATED, DEMO]) expect(lines.join('\n')).not.toContain(secret);
  });

  it('an earlier value stays revoked when a replica starts with it again, and revokes nothing', async () => {
    await start(DEMO);
    await start(ROTATED);
    const { log, lines } = capture();
    const again = await start(DEMO, log);
    expect(await again.tokens.verify(DEMO)).toBeUndefined();
    expect(await again.tokens.verify(ROTATED)).toMatchObject({ role: 'admin' });
    expect(lines.join('\n')).toMatch(/FICUS_ADMIN_TOKEN holds a revoked token/);
  });

  it('mends a store where two environment tokens are active (a rotation before this fix): the current one stays, the other is revoked', async () => {
    const o = await start(undefined);
    // the first start without a value made a bootstrap token; then two values were stored the old way
    await o.tokens.create('first-admin', 'admin', 'FICUS_ADMIN_TOKEN', DEMO);
    await o.tokens.create('first-admin', 'admin', 'FICUS_ADMIN_TOKEN', ROTATED);
    const restarted = await start(ROTATED);
    expect(await restarted.tokens.verify(DEMO)).toBeUndefined();
    expect(await restarted.tokens.verify(ROTATED)).toBeDefined();
  });

  it('leaves tokens made otherwise alone (the bootstrap token, admins made through the API), and names its own so that no two active tokens share a name', async () => {
    const o = await start(undefined);
    const bootstrap = (await active(o))[0]!;
    expect(bootstrap).toMatchObject({ name: 'first-admin', createdBy: 'bootstrap' });
    await o.tokens.createUnique('deputy-admin', 'admin', 'token:first-admin');
    await start(DEMO);
    await start(ROTATED);
    const names = (await active(o)).map((t) => `${t.name} ${t.createdBy}`).sort();
    expect(names).toEqual(['deputy-admin token:first-admin', 'first-admin bootstrap', 'first-admin-2 FICUS_ADMIN_TOKEN']);
    expect(await o.tokens.verify(DEMO)).toBeUndefined();
  });

  it('replicas starting together with one value store it once (no duplicate key)', async () => {
    const together = await Promise.allSettled(Array.from({ length: 4 }, () => start(ROTATED)));
    expect(together.filter((r) => r.status === 'rejected')).toEqual([]);
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      expect((await pool.query('SELECT count(*)::int AS n FROM api_tokens')).rows[0]).toEqual({ n: 1 });
    } finally {
      await pool.end();
    }
  });

  it('without a value, replicas starting together on an empty store make exactly one first token', async () => {
    await Promise.all(Array.from({ length: 4 }, () => start(undefined)));
    expect(await active(opened[0]!)).toHaveLength(1);
  });
});
