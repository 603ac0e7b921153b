/**
 * `ficus cdc status` as a real process against a real CDC deployable (FICUS_ADMIN_URL pointed
 * straight at its API: the same path and tokens the admin API forwards): the table, --json
 * (the API's answer as it came), --strict, and refusals without or with a bad token.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { Queue } from 'bullmq';
import { partitionQueueName } from '@ficus/contracts';
import { cdcQueuePrefix, deadLetterQueueName } from '@ficus/contracts/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScene, VIEWER_TOKEN, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { startStoreGateway } from '../../gateway/test/support/store-gateway.js';
import { REPO_ROOT, SHIM } from './support/cli-scene.js';

let s: Scene;
let cdc: CdcProcess;

beforeAll(async () => {
  // an ignored column the table does not have (dropped after it was ignored): a warning to show
  s = await startScene({ name: 'cli', seedPatients: 5, mapping: (topics) => topics.map((t) => (t.table === 'WARD' ? { ...t, ignore: [...(t.ignore ?? []), 'WARD_FAX'] } : t)) });
  cdc = await s.start();
});
afterAll(async () => {
  await cdc?.stop();
  await s?.close();
});

function ficus(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('FICUS_') && k !== 'NODE_OPTIONS') base[k] = v;
  const all: Record<string, string | undefined> = { ...base, FICUS_ADMIN_URL: cdc.url, FICUS_TOKEN: VIEWER_TOKEN, FICUS_CONFIG: '/nonexistent-on-purpose', ...env };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM, ...args], { cwd: REPO_ROOT, env: all as Record<string, string>, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ficus cdc status', () => {
  it('shows each source as a table, and the write-back', async () => {
    const r = await ficus(['cdc', 'status'], { FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
    expect(r.code, r.stderr).toBe(0);
    const [head, row] = r.stdout.split('\n');
    expect(head).toMatch(/^SOURCE\s+KIND\s+STATE\s+LAG\s+LAG MS\s+LAST POSITION\s+LAST COMMIT\s+CHANGES\/S$/);
    expect(row).toMatch(/^legacy-pg\s+postgres\s+streaming\s+\d+(\.\d)? (B|KiB|MiB)\s+\d+\s+[0-9A-F]{16}\/[0-9A-F]{8}\s+/);
    expect(r.stdout).toMatch(new RegExp(`WRITE-BACK FROM\\s+APPLIED SINCE START\\s+LAST APPLIED\\n${s.service}\\s+0\\s+none since start`));
    expect(r.stdout).toMatch(/\nwarning: \S+mapping\.yaml:\d+:\d+: field "ignore": table WARD has no column WARD_FAX: remove it from ignore\n/);
  });

  it('prints the API\'s JSON with --json, and --strict exits 0 while every source streams', async () => {
    const r = await ficus(['cdc', 'status', '--json', '--strict'], { FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as { sources: Record<string, unknown>[]; writeback: { enabled: boolean } };
    expect(body.sources[0]).toMatchObject({ name: 'legacy-pg', kind: 'postgres', state: 'streaming', lagBytes: expect.any(Number), lagMs: expect.any(Number), changesPerSecond: expect.any(Number) });
    expect(body.writeback.enabled).toBe(true);
  });

  it("shows the change batches a service gave up on, and --strict exits 1 while there are any", async () => {
    const topic = s.topics[0]!.topic;
    const queue = partitionQueueName(cdcQueuePrefix(topic), 2);
    const dead = new Queue(deadLetterQueueName(queue), { connection: s.redis });
    const letter = { queue, jobId: 'batch-1', name: 'batch', data: { version: 1, events: [] }, error: 'a unique index refused the row', attempts: 1, failedAt: new Date().toISOString() };
    await dead.add('batch', letter, { jobId: 'dead-batch-1' });
    try {
      const env = { FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! };
      const shown = await ficus(['cdc', 'status'], env);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(new RegExp(`CHANGE QUEUES\\s+DEAD LETTERS\\n${cdcQueuePrefix(topic).replace('.', '\\.')}\\.p\\*\\s+1\\n`));
      expect(shown.stdout).toContain('ficus queues dead-letters --channel cdc');
      const strict = await ficus(['cdc', 'status', '--strict', '--json'], env);
      expect(strict.code).toBe(1);
      expect(strict.stderr).toContain(`dead-lettered change batches: ${cdcQueuePrefix(topic)} (1)`);
      const body = JSON.parse(strict.stdout) as { consumerDeadLetters: { prefix: string; count: number }[] };
      expect(body.consumerDeadLetters).toContainEqual({ prefix: cdcQueuePrefix(topic), count: 1 });
      expect(body.consumerDeadLetters.every((c) => c.prefix.startsWith('cdc.'))).toBe(true);
    } finally {
      await dead.obliterate({ force: true });
      await dead.close();
    }
    const clean = await ficus(['cdc', 'status', '--strict'], { FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain("services' change queues: no dead letters");
  });

  it('exits 1 with the reason without a token, with a bad one, and with --strict once the source stopped', async () => {
    const none = await ficus(['cdc', 'status'], { FICUS_TOKEN: undefined, FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no admin token');
    const bad = await ficus(['cdc', 'status'], { FICUS_TOKEN: 'ficus_not-a-token', FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('refused (401)');
    // a TRUNCATE cannot be passed on as row changes: the source stops
    await s.legacyPool.query('TRUNCATE PATIENT_MERGE');
    for (let i = 0; i < 200; i++) {
      const strict = await ficus(['cdc', 'status', '--strict'], { FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! });
      if (strict.code === 1) {
        expect(strict.stdout).toMatch(/legacy-pg\s+postgres\s+error/);
        expect(strict.stdout).toContain('TRUNCATE of patient_merge cannot be expressed as row changes');
        expect(strict.stderr).toContain('not streaming: legacy-pg (error)');
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the source did not stop');
  });
});

describe('through the admin API, with the HL7 adapter hung (it accepts connections and never answers, as under kill -STOP)', () => {
  it("the CLI waits for the admin API's 504 and names the hung component; queues dead-letters lists the CDC letters all the same, the HL7 queues unavailable (exit 4)", async () => {
    const held: Socket[] = [];
    const hung: Server = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const hungUrl = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    const gw = await startStoreGateway({ storeUrl: s.store.url, files: {}, env: { FICUS_HL7_API_URL: hungUrl, FICUS_CDC_API_URL: cdc.url, FICUS_COMPONENT_TIMEOUT_MS: '3000' } });
    const queue = partitionQueueName(cdcQueuePrefix(s.topics[0]!.topic), 1);
    const dead = new Queue(deadLetterQueueName(queue), { connection: s.redis });
    await dead.add('batch', { queue, jobId: 'batch-hung', name: 'batch', data: { version: 1, events: [] }, error: 'a check constraint refused the row', attempts: 1, failedAt: new Date().toISOString() }, { jobId: 'dead-batch-hung' });
    try {
      const env = { FICUS_ADMIN_URL: gw.adminUrl, FICUS_CONFIG: undefined, HOME: s.env.FICUS_STATE_DIR! };
      const [messages, letters] = await Promise.all([ficus(['hl7', 'messages'], env), ficus(['queues', 'dead-letters'], env)]);
      expect(messages.code).toBe(1);
      expect(messages.stderr).toContain('refused (504): The HL7 adapter did not answer in time');
      expect(messages.stderr).toContain('did not answer within 3 s');
      expect(messages.stderr).not.toContain('cannot reach the admin API');
      expect(letters.code, letters.stderr).toBe(4);
      expect(letters.stderr).toContain('hl7: refused (504): The HL7 adapter did not answer in time');
      expect(letters.stdout).toMatch(/^hl7\.\*\s+unavailable \(The HL7 adapter did not answer in time\)$/m);
      expect(letters.stdout).toMatch(new RegExp(`^${queue.replaceAll('.', '\\.')}\\s+dead-batch-hung\\s`, 'm'));
    } finally {
      await dead.obliterate({ force: true });
      await dead.close();
      await gw.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  }, 90_000);
});
