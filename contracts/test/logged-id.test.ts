/**
 * One rule for ids others made (client request ids, HL7 control ids): logged as they are only
 * when shaped like a generated id, else as a short hash an operator can compute from the id.
 */
import { createHash, createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hashedId, LOGGED_HASH, loggedId, loggedIdSerializers, looksGenerated } from '../src/logging/logged-id.js';

const sha = (id: string) => 'sha256:' + createHash('sha256').update(id).digest('hex').slice(0, 12);
const hmac = (id: string, key: string) => 'hmac:' + createHmac('sha256', key).update(id).digest('hex').slice(0, 12);

const GENERATED = [
  '3f0b7f3e-6a8f-4c2b-9d0e-2f1a6b5c4d3e', // UUID v4
  '018f3c5e-7b2a-7cde-8f01-23456789abcd', // v7
  'c232ab00-9414-11ec-b3c8-9f6bdeced846', // v1
  '01ARZ3NDEKTSV4RRFFQ69G5FAV', // ULID
  '4bf92f3577b34da6a3ce929d0e0e4736', // trace id
];
const BUILT_FROM_DATA = [
  'ORU-100001-0042',
  'MSG100001',
  '100001',
  '20240311000123456', // a counter: valid hex, all digits
  'a8098c1a-f86e-31d4-a1e4-00c04fd430c8', // UUID v3: the MD5 of a name
  'ADT-2024-03-11-SMITH',
  'ÄÖÜ-100001',
];

describe('loggedId', () => {
  it('is the id itself when it looks generated', () => {
    for (const id of GENERATED) {
      expect(looksGenerated(id)).toBe(true);
      expect(loggedId(id)).toBe(id);
      expect(loggedId(id, 'a key')).toBe(id);
    }
  });

  it('is sha256: and 12 hex digits of the SHA-256 (UTF-8) for an id built from data', () => {
    for (const id of BUILT_FROM_DATA) {
      expect(looksGenerated(id)).toBe(false);
      expect(loggedId(id)).toBe(sha(id));
      expect(loggedId(id)).toMatch(LOGGED_HASH);
    }
  });

  it('is hmac: and 12 hex digits of the HMAC-SHA-256 under a key', () => {
    expect(loggedId('ORU-100001-0042', 'a deployment secret')).toBe(hmac('ORU-100001-0042', 'a deployment secret'));
    expect(hashedId('ORU-100001-0042', 'a deployment secret')).toMatch(LOGGED_HASH);
    // an empty key is no key
    expect(hashedId('ORU-100001-0042', '')).toBe(sha('ORU-100001-0042'));
  });
});

describe('loggedIdSerializers', () => {
  function capture(settings: Parameters<typeof loggedIdSerializers>[1]) {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'debug' }, sink).child({}, { serializers: loggedIdSerializers(['controlId', 'ackedControlId'], settings) });
    return { log, lines };
  }

  it('logs the named fields as loggedId shows them, in children too, and leaves other fields alone', () => {
    const { log, lines } = capture({});
    log.child({ peer: 'x' }).warn({ controlId: 'MRN100001-1', ackedControlId: 'MRN100001-0', other: 'MRN100001-2' }, 'refused');
    log.info({ controlId: GENERATED[0] }, 'taken');
    log.info({ controlId: undefined, type: 'ADT' }, 'no header');
    expect(lines[0]).toMatchObject({ controlId: sha('MRN100001-1'), ackedControlId: sha('MRN100001-0'), other: 'MRN100001-2' });
    expect(lines[1]).toMatchObject({ controlId: GENERATED[0] });
    expect(lines[2]).not.toHaveProperty('controlId');
    expect(JSON.stringify(lines.slice(0, 2))).not.toContain('MRN100001-1');
  });

  it('uses the key, and logs the ids as they are when plain', () => {
    const keyed = capture({ key: 'k' });
    keyed.log.info({ controlId: 'MRN100001-1' }, 'x');
    expect(keyed.lines[0]!.controlId).toBe(hmac('MRN100001-1', 'k'));
    const plain = capture({ plain: true, key: 'k' });
    plain.log.info({ controlId: 'MRN100001-1' }, 'x');
    expect(plain.lines[0]!.controlId).toBe('MRN100001-1');
  });
});
