/**
 * The admin API passes a component's prefix through (`/api/hl7/*`, `/api/cdc/*`,
 * `/api/services/<service>/*`), and nothing else of the component: a path whose dot segments
 * (`..`, `%2e%2e`) lead out of the prefix is refused here. The route matched the path as sent
 * and the forwarded URL resolved it, so `/api/services/patient-service/../../patients/<mrn>`,
 * with no token at all, reached the service's own API (which takes none: patient data), and a
 * PUT there would have written. Real sockets: the path is sent as written (fetch would resolve it).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { seedRules, startStoreGateway, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let gw: StoreGateway;
const arrived: string[] = [];
// the service: answers every path, as its own unauthenticated API would
const service = createServer((req: IncomingMessage, res: ServerResponse) => {
  arrived.push(`${req.method} ${req.url}`);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"mrn":"1234567","lastName":"PATIENT"}');
});

/** one request with its path exactly as written; answers the status code */
function rawStatus(url: string, method: string, path: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`));
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'admin_paths');
  legacy = await startTestUpstream('legacy');
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  const serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
  gw = await startStoreGateway({ storeUrl: db.url, files: seedRules(legacy.url, legacy.url), env: { FICUS_PATIENT_SERVICE_API_URL: serviceUrl, FICUS_CDC_API_URL: serviceUrl } });
});
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => service.close(r));
  await legacy?.close();
  await db?.drop();
});

describe('the admin API passes a component its prefix only', () => {
  it('refuses a path whose dot segments leave the prefix (400), and it never reaches the component', async () => {
    for (const [method, path] of [
      ['GET', '/api/services/patient-service/../../patients/1234567'],
      ['GET', '/api/services/patient-service/%2e%2e/%2E%2E/patients/1234567'],
      ['PUT', '/api/services/patient-service/conflicts/../../../patients/1234567'],
      ['GET', '/api/cdc/../../metrics'],
    ] as const) {
      expect(await rawStatus(gw.adminUrl, method, path), `${method} ${path}`).toBe(400);
    }
    expect(arrived).toEqual([]);
  });

  it('passes a path under the prefix, dot segments that stay in it resolved', async () => {
    expect(await rawStatus(gw.adminUrl, 'GET', '/api/services/patient-service/conflicts?limit=1')).toBe(200);
    expect(await rawStatus(gw.adminUrl, 'GET', '/api/services/patient-service/x/../conflicts/7')).toBe(200);
    expect(arrived).toEqual(['GET /api/services/patient-service/conflicts?limit=1', 'GET /api/services/patient-service/conflicts/7']);
  });
});
