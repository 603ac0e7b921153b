/**
 * The client's x-request-id is passed upstream and back unchanged, but the gateway's logs show
 * it only when it has the shape of a generated id: an integration engine that builds its ids
 * from an MRN or an accession number put them in the "no PHI" logs verbatim before. Any other
 * id is logged as a short hash an operator can compute from the id.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { keyRequestIdHashes, loggedRequestId } from '../src/proxy/request-id.js';
import { legacyDefaultOnly, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { header, rawRequest } from './support/raw-http.js';
import { receivedFor } from './support/test-upstream.js';

const sha = (id: string) => 'sha256:' + createHash('sha256').update(id).digest('hex').slice(0, 12);

describe('the request id the logs show', () => {
  afterEach(() => keyRequestIdHashes(undefined));

  it('is the id itself for generated ids: UUIDs (1, 4, 6, 7), ULIDs, hex trace ids', () => {
    for (const id of [
      '3f0b7f3e-6a8f-4c2b-9d0e-2f1a6b5c4d3e',
      '018f3c5e-7b2a-7cde-8f01-23456789abcd',
      'c232ab00-9414-11ec-b3c8-9f6bdeced846',
      '1ec9414c-232a-6b00-b3c8-9f6bdeced846',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      '4bf92f3577b34da6a3ce929d0e0e4736',
      '00F067AA0BA902B7',
    ]) {
      expect(loggedRequestId(id)).toBe(id);
    }
  });

  it('is a hash for anything else: ids built from an MRN or accession, mostly-digit tokens, name-based UUIDs, words', () => {
    for (const id of [
      'ORU-100001-0042',
      '100001',
      'ACC2024000123',
      '2024031112345678',
      '20240311000123456a',
      '00100001-0000-4000-8000-000000000000',
      'a8098c1a-f86e-31d4-a1e4-00c04fd430c8', // version 3 (MD5 of a name)
      '886313e1-3b8a-5372-9b90-0c9aee199e5d', // version 5 (SHA-1 of a name)
      'SMITHJOHN1970ABCDEFGH',
      'host/abc123-000042',
    ]) {
      expect(loggedRequestId(id)).toBe(sha(id));
    }
  });

  it('is an HMAC under a key when one is set', () => {
    keyRequestIdHashes('a deployment secret');
    expect(loggedRequestId('ORU-100001-0042')).toBe('hmac:' + createHmac('sha256', 'a deployment secret').update('ORU-100001-0042').digest('hex').slice(0, 12));
    expect(loggedRequestId('3f0b7f3e-6a8f-4c2b-9d0e-2f1a6b5c4d3e')).toBe('3f0b7f3e-6a8f-4c2b-9d0e-2f1a6b5c4d3e');
  });
});

describe('through the gateway', () => {
  let scene: TwoUpstreams;
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    scene = await startLegacyAndNew(legacyDefaultOnly);
    const runtime = scene.gw.gateway.runtime;
    runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
    runtime.accessLogAll = true;
  });
  afterAll(() => scene?.close());

  it('passes the client id upstream and back unchanged, and logs its hash', async () => {
    const since = logged.length;
    const got = await rawRequest(scene.gw.url, 'GET', '/chart', { 'x-request-id': 'ORU-100001-0042' });
    expect(header(got, 'x-request-id')).toBe('ORU-100001-0042');
    expect(receivedFor(scene.legacy, '/chart').headers['x-request-id']).toBe('ORU-100001-0042');
    expect(logged.slice(since)).toMatchObject([{ rule: 'legacy-default', status: 200, reqId: sha('ORU-100001-0042') }]);
    expect(JSON.stringify(logged.slice(since))).not.toContain('100001');
  });

  it('logs a generated client id as it is', async () => {
    const since = logged.length;
    await rawRequest(scene.gw.url, 'GET', '/chart', { 'x-request-id': '4bf92f3577b34da6a3ce929d0e0e4736' });
    expect(logged.slice(since)).toMatchObject([{ reqId: '4bf92f3577b34da6a3ce929d0e0e4736' }]);
  });

  it("hashes the id of the gateway's own refusals too", async () => {
    const since = logged.length;
    const got = await rawRequest(scene.gw.url, 'TRACE', '/chart', { 'x-request-id': 'MRN-100001' });
    expect(got.status).toBe(501);
    expect(header(got, 'x-request-id')).toBe('MRN-100001');
    expect(logged.slice(since)).toMatchObject([{ rule: '-', status: 501, reqId: sha('MRN-100001') }]);
  });
});
