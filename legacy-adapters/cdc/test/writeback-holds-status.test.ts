/**
 * What holds the write-back, where operators look (the CDC deployable as a child process, its
 * own legacy writer, real PostgreSQL and Redis, `ficus` as a real process against its API):
 *
 * - the emergency override file naming the service's record rule: /api/cdc/status and
 *   `ficus cdc status` say which file, which rules, since when and whose record it holds (before,
 *   only the CDC log said so);
 * - an update whose legacy row is gone while CDC does not read (its source stopped by a TRUNCATE):
 *   the partition it holds, with topics, counts, since when and what it waits for (before, a log
 *   line alone), until CDC_WRITEBACK_GONE_WAIT_MS (new; 5 min fixed before) dead-letters it;
 * - a result whose patient the legacy does not have yet (its foreign key refuses it): the partition
 *   it holds, with topics, counts, the foreign key and parent table it waits for, since and until
 *   when, gone once the patient is there (before, a log line alone).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyText, partitionOf, partitionQueueName, type ChangeBatch } from '@ficus/contracts';
import type { CdcStatus } from '@ficus/contracts/api';
import { deadLetterQueueName, outboxPosition, writebackQueuePrefix } from '@ficus/contracts/queues';
import { ROOT, startScene, until, VIEWER_TOKEN, type CdcProcess, type Scene } from './support/cdc-scene.js';

const PARTITIONS = 8;
const GONE_WAIT_MS = 3_000;
const FK_WAIT_MS = 60_000;
const HELD = 'rules: [patients-write]\nreason: rule store down\nby: j.doe\n';

let s: Scene;
let cdc: CdcProcess;
let file: string;

beforeAll(async () => {
  s = await startScene({ name: 'wb_holds' });
  // the file in force when CDC starts: read before the first write-back
  mkdirSync(s.env.FICUS_STATE_DIR!, { recursive: true });
  file = path.join(s.env.FICUS_STATE_DIR!, 'emergency-legacy.yaml');
  writeFileSync(file, HELD);
  cdc = await s.start({ CDC_WRITEBACK_GONE_WAIT_MS: String(GONE_WAIT_MS), CDC_WRITEBACK_FK_WAIT_MS: String(FK_WAIT_MS), CDC_WRITEBACK_RECORD_RULES: `${s.service}=patients-write`, CDC_PARTITIONS: String(PARTITIONS) });
});
afterAll(async () => {
  await cdc?.stop();
  await s?.close();
});

async function status(): Promise<CdcStatus> {
  const res = await fetch(`${cdc.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as CdcStatus;
}

function cdcStatusText(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('FICUS_') && k !== 'NODE_OPTIONS') env[k] = v;
  // HOME without a config file of the machine's
  Object.assign(env, { FICUS_ADMIN_URL: cdc.url, FICUS_TOKEN: VIEWER_TOKEN, HOME: s.env.FICUS_STATE_DIR! });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin/ficus.js'), 'cdc', 'status'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the write-back status', () => {
  it('says the emergency file holding the service\'s record: which file, which rules, since when', async () => {
    const e = (await status()).writeback.emergency;
    expect(e).toEqual({ file, rules: ['patients-write'], reason: 'rule store down', by: 'j.doe', since: expect.any(String), services: [{ name: s.service, rule: 'patients-write' }] });
    const r = await cdcStatusText();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`EMERGENCY OVERRIDE: ${file} (rules: patients-write) in force since ${e!.since} by j.doe: rule store down; the legacy holds the record of ${s.service} (patients-write)`);

    // a file spoiled while in force: the override read before stays, and the status says the file was refused
    writeFileSync(file, 'rules: [patients-write\n');
    const warned = await until(async () => (await status()).warnings?.find((w) => w.startsWith(`the emergency override file ${file} was refused at `)), 'the refusal warned', 10_000);
    expect(warned).toMatch(/: the override read before stays in force$/);
    expect((await status()).writeback.emergency).toEqual(e);
    writeFileSync(file, HELD);
    await until(async () => !(await status()).warnings?.some((w) => w.includes('emergency override file')), 'the warning gone', 10_000);
  });

  it('shows a partition held by a result whose patient the legacy does not have yet, without keys, until the patient is there', async () => {
    const mrn = '7700402';
    const resultId = '8800402';
    const partition = partitionOf(keyText({ resultId }), PARTITIONS);
    const queue = new Queue<ChangeBatch>(partitionQueueName(writebackQueuePrefix(s.service), partition), { connection: s.redis });
    const parentWaits = async () => (await status()).writeback.services.find((x) => x.name === s.service)?.parentWaits;
    try {
      const source = { system: 'outbox', name: s.service, database: 'service', schema: null, table: 'ficus_outbox', position: outboxPosition(4_101), txId: null, commitTime: new Date().toISOString(), origin: null } as const;
      const after = { resultId, mrn, admissionId: null, orderNumber: `ORD${resultId}`, testCode: 'K', testName: 'POTASSIUM', value: '4.1', units: 'mmol/L', status: 'F', collectedDate: '2026-12-01T09:00:00', lastUpdated: '2026-12-01T09:30:00' };
      await queue.add('outbox', { schemaVersion: 1, events: [{ schemaVersion: 1, topic: s.topic('lab-results'), op: 'create', key: { resultId }, before: null, after, source }] });

      const held = await until(async () => (await parentWaits())?.[0], 'the parent wait in the status');
      expect(held).toEqual({
        partition,
        topics: [s.topic('lab-results')],
        rows: 1,
        foreignKeys: [{ table: 'lab_result', constraint: 'lab_result_pat_mrn_fkey', parentTable: 'patient_master' }],
        since: expect.any(String),
        until: new Date(Date.parse(held.since) + FK_WAIT_MS).toISOString(),
      });
      expect(JSON.stringify(held)).not.toContain(mrn);
      expect(JSON.stringify(held)).not.toContain(resultId);
      const r = await cdcStatusText();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `write-back from ${s.service} held on partition ${partition} since ${held.since}: 1 row(s) of ${s.topic('lab-results')} the legacy refuses until their parent row is there (foreign key lab_result_pat_mrn_fkey of lab_result, wanting a row of patient_master); from ${held.until} on, those still refused are dead-lettered (at their next try)`,
      );
      expect(r.stdout).not.toContain(mrn);

      // the patient arrives (here by a legacy screen): the result is written, and the hold is gone
      await s.legacyPool.query("INSERT INTO patient_master (pat_mrn, pat_last_nm, pat_first_nm, pat_dob, sex_cd) VALUES ($1, 'PARENTLATE', 'ANNA', '1980-01-01', 'F')", [mrn]);
      await until(async () => (await s.legacyPool.query('SELECT 1 FROM lab_result WHERE result_id = $1', [resultId])).rowCount === 1, 'the result written back', 20_000);
      await until(async () => (await parentWaits())?.length === 0, 'the hold gone from the status');
      expect((await cdcStatusText()).stdout).not.toContain('the legacy refuses until their parent row is there');
    } finally {
      await queue.close();
    }
  });

  it('shows a partition held by an update whose legacy row is gone, without keys, and dead-letters it after CDC_WRITEBACK_GONE_WAIT_MS', async () => {
    // CDC stops reading: a TRUNCATE cannot be passed on as row changes
    await s.legacyPool.query('TRUNCATE PATIENT_MERGE');
    await until(async () => (await status()).sources[0]!.state === 'error', 'the source stopped');
    const mrn = '7700401';
    const row = { mrn, lastName: 'GONEHELD', firstName: 'ANNA', dateOfBirth: '1980-01-01', sex: 'F', city: 'OLDTOWN' };
    await s.legacyPool.query("INSERT INTO patient_master (pat_mrn, pat_last_nm, pat_first_nm, pat_dob, sex_cd, city_nm) VALUES ($1, 'GONEHELD', 'ANNA', '1980-01-01', 'F', 'OLDTOWN')", [mrn]);
    await s.legacyPool.query('DELETE FROM patient_master WHERE pat_mrn = $1', [mrn]);
    const partition = partitionOf(keyText({ mrn }), PARTITIONS);
    const queue = new Queue<ChangeBatch>(partitionQueueName(writebackQueuePrefix(s.service), partition), { connection: s.redis });
    const dead = new Queue(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), partition)), { connection: s.redis });
    try {
      const source = { system: 'outbox', name: s.service, database: 'service', schema: null, table: 'ficus_outbox', position: outboxPosition(4_001), txId: null, commitTime: new Date().toISOString(), origin: null } as const;
      await queue.add('outbox', { schemaVersion: 1, events: [{ schemaVersion: 1, topic: s.topic('patients'), op: 'update', key: { mrn }, before: row, after: { ...row, city: 'NEWTOWN' }, source }] });

      const held = await until(async () => (await status()).writeback.services.find((x) => x.name === s.service)?.goneRows?.[0], 'the held partition in the status');
      expect(held).toEqual({ partition, topics: [s.topic('patients')], rows: 1, since: expect.any(String), waitingFor: expect.stringContaining(`CDC (slot ${s.slot}) to read the legacy's WAL past `), until: new Date(Date.parse(held.since) + GONE_WAIT_MS).toISOString() });
      expect(JSON.stringify(held)).not.toContain(mrn);
      const r = await cdcStatusText();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`write-back from ${s.service} held on partition ${partition} since ${held.since}: 1 update(s) of ${s.topic('patients')} whose legacy row is gone`);
      expect(r.stdout).toContain(`from ${held.until} on, those still waiting are dead-lettered as not known (at their next try)`);
      expect(r.stdout).not.toContain(mrn);

      // the configured wait, not 5 minutes (the try after it, the pauses between tries growing to 5 s): dead-lettered as not known, and no longer shown as held
      const [letter] = await until(async () => {
        const jobs = await dead.getJobs(['waiting']);
        return jobs.length > 0 && jobs;
      }, 'the dead letter', 20_000);
      expect((letter!.data as { error: string }).error).toMatch(/CDC did not read that far within \d+ s: not known whether it was deleted or its key changed/);
      expect(Date.now() - Date.parse(held.since)).toBeLessThan(20_000);
      await until(async () => (await status()).writeback.services.find((x) => x.name === s.service)?.goneRows?.length === 0, 'the hold gone from the status');
      expect((await s.legacyPool.query('SELECT 1 FROM patient_master WHERE pat_mrn = $1', [mrn])).rowCount).toBe(0);
    } finally {
      await queue.close();
      await dead.obliterate({ force: true });
      await dead.close();
    }
  });
});
