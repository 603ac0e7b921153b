/**
 * A call the admin API passes through to the CDC reader (or the HL7 adapter) that does not
 * answer, in flight at shutdown. Closing used to wait for the admin API first, and so for the
 * passthrough's own 30 s timeout, before the data plane's drain even began. Now both drain side
 * by side and the passthrough is aborted at the end of the drain, answered 503.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { ADMIN_TOKEN, seedRules, startStoreGateway, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
const held: Socket[] = [];
const arrived: string[] = [];
const silentCdc = createServer((req: IncomingMessage) => {
  // takes the call and never answers it
  arrived.push(req.url ?? '');
  held.push(req.socket);
});

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'shutdown_admin');
  legacy = await startTestUpstream('legacy');
  await new Promise<void>((r) => silentCdc.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => silentCdc.close(r));
  await legacy?.close();
  await db?.drop();
});

describe('shutdown with an admin passthrough in flight', () => {
  let gw: StoreGateway;
  it('ends within the drain (plus a little): the passthrough aborted and answered 503, the data plane closed alongside', async () => {
    const cdcUrl = `http://127.0.0.1:${(silentCdc.address() as AddressInfo).port}`;
    gw = await startStoreGateway({ storeUrl: db.url, files: seedRules(legacy.url, legacy.url), env: { FICUS_CDC_API_URL: cdcUrl, FICUS_SHUTDOWN_TIMEOUT_MS: '800' } });
    const answer = fetch(gw.adminUrl + '/api/cdc/status', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as { title: string; detail: string } }),
      (e: Error) => ({ status: 0, body: { title: e.message, detail: '' } }),
    );
    for (let i = 0; i < 100 && arrived.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(arrived).toEqual(['/api/cdc/status']);

    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still closing'), 6_000)));
    expect(await Promise.race([gw.close().then(() => 'closed'), late])).toBe('closed');
    clearTimeout(timer);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(750);
    expect(took).toBeLessThan(3_000);
    expect(await answer).toMatchObject({ status: 503, body: { title: 'The gateway is shutting down' } });
  });
});
