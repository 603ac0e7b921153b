/**
 * The legacy writer asks who holds a service's record with the legacy row locked; the emergency
 * override file must be read as it is then, not as the watcher last saw it. A probe on the demo
 * paused the CDC process (SIGSTOP) while the file appeared and a legacy screen saved the field:
 * on resume the write-back wrote the service's older value over that save 74 ms before the watcher
 * read the file. Here the watcher is loaded but never started (the pause, as long as we like):
 * before, `of()` answered `service` until a tick that never came; now it looks at the file (a
 * stat, read when it moved) and answers as the watcher's next tick would, refusals included.
 * Real files and a real rule store (patients-write in mode new).
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createLogger, openStore, type OpenStore, type RecordEmergencyFile, type RuleSet } from '@ficus/contracts';
import { parseRecordRules, recordHoldersFromStore, watchRecordEmergency, type RecordHolders } from '../src/writeback/record-holder.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';

const RULES_DIR = fileURLToPath(new URL('../../../routing-rules', import.meta.url));
const log = createLogger('record-holder-fresh-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const HELD = 'rules: [patients-write]\nreason: rule store down\nby: j.doe\n';
const RECORD_RULES = parseRecordRules('patient-service=patients-write');

let storeDb: TestDatabase;
let control: OpenStore;
let dir: string;

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'cdc_holder_fresh_store');
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-holder-fresh-'));
  control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir: path.join(dir, 'store'), adminToken: undefined, bootstrapToken: false, log });
  const current = (await control.store.current())!;
  const http = current.ruleSet.http.map((r) => (r.id === 'patients-write' ? { ...r, mode: 'new' } : r)) as RuleSet['http'];
  await control.store.commit(current.version, { ...current.ruleSet, http }, 'test', 'cutover', { kind: 'flip', summary: 'cutover' });
});
afterAll(async () => {
  await control?.close();
  await storeDb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** the writer's holders over `file`, its watcher read once and then paused for good */
async function paused(file: string): Promise<{ holders: RecordHolders; emergency: RecordEmergencyFile }> {
  const emergency = watchRecordEmergency(file, RECORD_RULES, log);
  await emergency.load();
  onTestFinished(() => emergency.stop());
  return { holders: recordHoldersFromStore(control.store, RECORD_RULES, emergency), emergency };
}

describe('the legacy writer reads the emergency file as it is when it decides', () => {
  it('a file written while the watcher does not tick holds the record at the next answer; its removal gives it back', async () => {
    const file = path.join(dir, 'appears.yaml');
    const { holders, emergency } = await paused(file);
    expect(await holders.of('patient-service')).toBe('service');
    writeFileSync(file, HELD);
    // before: 'service' (the watcher never read the file)
    expect(await holders.of('patient-service')).toBe('legacy');
    expect(emergency.status().override).toMatchObject({ rules: ['patients-write'], by: 'j.doe', recordInLegacy: ['patients-write'] });
    // a service without a record rule is not the file's business
    expect(await holders.of('results-service')).toBe('service');
    unlinkSync(file);
    expect(await holders.of('patient-service')).toBe('service');
    expect(emergency.status().override).toBeUndefined();
  });

  it('the same refusals as the watcher: a broken file keeps the override in force, or none', async () => {
    const file = path.join(dir, 'refused.yaml');
    const { holders, emergency } = await paused(file);
    writeFileSync(file, 'rules: [patients-write\n');
    expect(await holders.of('patient-service')).toBe('service');
    expect(emergency.status().lastRefused?.issues.join()).toMatch(/refused\.yaml/);
    writeFileSync(file, HELD);
    expect(await holders.of('patient-service')).toBe('legacy');
    expect(emergency.status().lastRefused).toBeUndefined();
    writeFileSync(file, 'rules: []\n');
    expect(await holders.of('patient-service')).toBe('legacy');
    expect(emergency.status()).toMatchObject({ override: { rules: ['patients-write'] }, lastRefused: { issues: [expect.stringContaining('"rules" is empty')] } });
    writeFileSync(file, 'rules: [patients-read]\n');
    expect(await holders.of('patient-service')).toBe('service');
  });

  it('a ConfigMap volume: the link swapped to a new folder is seen though the path never changed', async () => {
    const volume = path.join(dir, 'configmap');
    const version = (name: string, text: string) => {
      mkdirSync(path.join(volume, name), { recursive: true });
      writeFileSync(path.join(volume, name, 'emergency-legacy.yaml'), text);
      // as the kubelet: a new ..data link renamed over the old one
      symlinkSync(name, path.join(volume, '..data_tmp'));
      renameSync(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
    };
    version('..v1', 'rules: [patients-read]\n');
    const file = path.join(volume, 'emergency-legacy.yaml');
    symlinkSync('..data/emergency-legacy.yaml', file);
    const { holders } = await paused(file);
    expect(await holders.of('patient-service')).toBe('service');
    version('..v2', HELD);
    expect(await holders.of('patient-service')).toBe('legacy');
    version('..v3', 'rules: [patients-read]\n');
    expect(await holders.of('patient-service')).toBe('service');
  });
});
