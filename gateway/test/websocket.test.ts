import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../../test-support/legacy-his.js';
import { SHIPPED_RULES_DIR, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

let his: Harness;
let gw: GatewayUnderTest;

beforeAll(async () => {
  his = await startHarness('gw_websocket', { patients: 10 });
  gw = await startGatewayUnderTest({ dir: SHIPPED_RULES_DIR }, {}, { FICUS_UPSTREAM_LEGACY_URL: his.base });
});
afterAll(async () => {
  await gw?.close();
  await his?.close();
});

describe('WebSocket passthrough', () => {
  it('echoes text and binary messages through the gateway, naming the rule in the handshake', async () => {
    const ws = new WebSocket(gw.url.replace('http', 'ws') + '/ws/echo');
    const handshake = new Promise<Record<string, string | string[] | undefined>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const headers = await handshake;
    expect(headers['x-ficus-route']).toBe('legacy-default; legacy');
    expect(String(headers.via)).toContain('1.1 ficus');

    const received: (string | Buffer)[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        received.push(isBinary ? (data as Buffer) : data.toString());
        if (received.length === 3) resolve();
      }),
    );
    const big = Buffer.alloc(256 * 1024, 9);
    ws.send('ward 7 bed board');
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send(big);
    await all;
    expect(received[0]).toBe('ward 7 bed board');
    expect(received[1]).toEqual(Buffer.from([0, 1, 2, 255]));
    expect((received[2] as Buffer).equals(big)).toBe(true);
    ws.close();
  });
});
