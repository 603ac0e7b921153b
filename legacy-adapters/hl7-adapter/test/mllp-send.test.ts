/**
 * An external client: `mllp_send` from Debian's python3-hl7 package sends public sample files
 * to a live adapter and gets ACKs. What the tool does (checked on python3-hl7 0.4.5): `-f file`
 * reads MLLP-framed messages (it splits on the end block and prints each answer as the raw
 * frame it received, then a newline); a plain .hl7 file needs `--loose`, which splits on
 * "MSH|^~\&|", turns LF and CRLF into CR, and would send a byte-order mark in front of a
 * message as a message of its own (so a file with one gets that refused first: its samples are
 * sent framed here). Its stdin mode is broken, and it waits for an answer to every message, so
 * only messages that ask for one are sent. The test installs the package when it is missing
 * and it runs as root; otherwise it fails with the command to run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, MllpDecoder } from '@ficus/hl7-protocol';
import { ensureTools } from '../../../scripts/lib/system-tools.js';
import { sampleBytes } from '../../../test-support/hl7-samples.js';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { TestInbound } from './support/test-inbound.js';

const MLLP_SEND = '/usr/bin/mllp_send';

let a: AdapterUnderTest;
let inbound: TestInbound;
let dir: string;

beforeAll(async () => {
  ensureTools({ [MLLP_SEND]: 'python3-hl7' }, (l) => console.log(`[mllp_send test] ${l}`));
  inbound = new TestInbound();
  await inbound.start();
  // ADT04-251, LAB-ORU-1 and ORU-R01-01 are training messages (MSH-11 T): taken here on purpose, as a test system would
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy'), env: { HL7_PROCESSING_IDS: 'P,T' } });
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-mllp-send-'));
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The sample with MSH-10 replaced (the samples reuse their control ids), bytes otherwise as in the file: BOM, LF endings and all. */
function withControlId(file: string, controlId: string): Buffer {
  const text = sampleBytes(file).toString('latin1');
  const start = text.indexOf('MSH');
  const sep = text[start + 3]!;
  const end = text.slice(start).search(/\r|\n/) + start;
  const fields = text.slice(start, end).split(sep);
  fields[9] = controlId;
  return Buffer.from(text.slice(0, start) + fields.join(sep) + text.slice(end), 'latin1');
}

function mllpSend(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    // its shebang is /usr/bin/python3, where Debian installed the package
    execFile(MLLP_SEND, [...args, '-p', String(a.adapter.port), '127.0.0.1'], { encoding: 'buffer', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

/** What mllp_send printed: each answer's frame, decoded. */
function answers(stdout: Buffer) {
  const decoder = new MllpDecoder();
  return decoder
    .push(stdout)
    .flatMap((e) => (e.type === 'frame' ? [decodeMessage(e.payload)] : []))
    .map((d) => {
      if (!d.ok) throw new Error(`mllp_send printed something that is not an ACK: ${d.error.text}`);
      return { code: d.message.get('MSA-1'), controlId: d.message.get('MSA-2'), ackId: d.message.get('MSH-10') };
    });
}

async function stored(prefix: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
  try {
    return (await db.query<{ control_id: string }>("SELECT control_id FROM hl7_messages WHERE control_id LIKE $1 || '%' ORDER BY id", [prefix])).rows.map((r) => r.control_id);
  } finally {
    await db.end();
  }
}

describe('mllp_send (python3-hl7) as the sending system', () => {
  it('sends a file of several framed sample messages (LF endings, byte-order marks) over one connection, and gets each ACK', async () => {
    // original mode, and one enhanced (MSH-15 AL, MSH-16 NE: a commit ACK only); BOM: ADT04-251, LAB-ORU-1, ORM-O01-01, VXU-V04-01
    const files = ['ADT-A01-01.hl7', 'ADT04-251.hl7', 'LAB-ORU-1.hl7', 'ORM-O01-01.hl7', 'SIU-S12-01.hl7', 'VXU-V04-01.hl7', 'MDM-T02-01.hl7', 'ORU-R01-01.hl7'];
    const ids = files.map((_, i) => `MLLPSEND-${i + 1}`);
    const framed = Buffer.concat(files.flatMap((f, i) => [Buffer.from([0x0b]), withControlId(f, ids[i]!), Buffer.from([0x1c, 0x0d])]));
    writeFileSync(path.join(dir, 'framed.hl7'), framed);

    const r = await mllpSend(['-f', path.join(dir, 'framed.hl7')]);
    expect(r.code, r.stderr).toBe(0);
    const got = answers(r.stdout);
    expect(got.map((x) => x.controlId)).toEqual(ids);
    expect(got.map((x) => x.code)).toEqual([...Array(files.length - 1).fill('AA'), 'CA']);
    expect(new Set(got.map((x) => x.ackId)).size).toBe(files.length);
    expect(await stored('MLLPSEND-')).toEqual(ids);
  });

  it('sends a plain sample file with --loose', async () => {
    writeFileSync(path.join(dir, 'plain.hl7'), withControlId('ADT-A08-01.hl7', 'LOOSE-1'));
    const r = await mllpSend(['--loose', '-f', path.join(dir, 'plain.hl7')]);
    expect(r.code, r.stderr).toBe(0);
    expect(answers(r.stdout)).toEqual([expect.objectContaining({ code: 'AA', controlId: 'LOOSE-1' })]);
    expect(await stored('LOOSE-')).toEqual(['LOOSE-1']);
    // sent again (a resend): the same positive ACK, stored once
    const again = await mllpSend(['--loose', '-f', path.join(dir, 'plain.hl7')]);
    expect(answers(again.stdout)).toEqual([expect.objectContaining({ code: 'AA', controlId: 'LOOSE-1' })]);
    expect(await stored('LOOSE-')).toEqual(['LOOSE-1']);
  });
});
