/**
 * Rule files from a Kubernetes ConfigMap volume, laid out as the kubelet lays it out: the
 * files in a timestamped folder `..2026_…`, a link `..data` to it, and each key a link
 * `<key> -> ..data/<key>`. An update writes a new timestamped folder and renames a new
 * `..data` link over the old one (atomic), then drops the old folder.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { openStore } from '../src/control-plane/open-store.js';
import { FileRuleSource } from '../src/rule-sources/file-source.js';
import { loadRuleDir } from '../src/rules/load-files.js';
import type { RuleSet } from '../src/rules/model.js';
import { createTestDatabase } from '../../test-support/databases.js';

const UPSTREAMS = 'upstreams:\n  legacy: { url: "http://legacy:8000" }\n  patient-service: { url: "http://patient-service:8101" }\n';
const http = (mode: string) => `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: ${mode}
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

const silent = pino({ level: 'silent' });
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A ConfigMap volume with these keys; `update` swaps in new contents the kubelet's way. */
function configMapVolume(keys: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-configmap-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  let current = '';
  const writePayload = (files: Record<string, string>) => {
    const ts = `..2026_12_06_20_00_0${n++}.00000000${n}`;
    mkdirSync(path.join(dir, ts));
    for (const [k, v] of Object.entries(files)) writeFileSync(path.join(dir, ts, k), v);
    return ts;
  };
  current = writePayload(keys);
  symlinkSync(current, path.join(dir, '..data'));
  for (const k of Object.keys(keys)) symlinkSync(path.join('..data', k), path.join(dir, k));
  return {
    dir,
    update(files: Record<string, string>) {
      const old = current;
      current = writePayload(files);
      symlinkSync(current, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      rmSync(path.join(dir, old), { recursive: true });
    },
  };
}

describe('rules from a ConfigMap volume', () => {
  it('loads the keys (links) and nothing of the volume\'s own entries', async () => {
    const cm = configMapVolume({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': http('legacy') });
    const r = await loadRuleDir(cm.dir);
    expect(r.ok ? [] : r.errors).toEqual([]);
    expect(r.files.map((f) => path.basename(f))).toEqual(['00-upstreams.yaml', '10-http.yaml']);
    expect(r.ok && r.ruleSet.http.map((h) => h.id)).toEqual(['patients-read', 'legacy-default']);
  });

  it('skips a link to a folder, and names a dangling link rather than loading without it', async () => {
    const cm = configMapVolume({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': http('legacy') });
    mkdirSync(path.join(cm.dir, 'archive'));
    symlinkSync('archive', path.join(cm.dir, 'old.yaml'));
    expect((await loadRuleDir(cm.dir)).ok).toBe(true);
    symlinkSync(path.join('..data', 'gone.yaml'), path.join(cm.dir, '20-gone.yaml'));
    const r = await loadRuleDir(cm.dir);
    expect(r.ok ? [] : r.errors.map((e) => `${path.basename(e.file ?? '')}: ${e.reason}`)).toEqual([expect.stringMatching(/^20-gone\.yaml: cannot read the rule file: ENOENT/)]);
    unlinkSync(path.join(cm.dir, '20-gone.yaml'));
    expect((await loadRuleDir(cm.dir)).ok).toBe(true);
  });

  it('the file watcher applies an update the moment the kubelet swaps ..data (no poll)', async () => {
    const cm = configMapVolume({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': http('legacy') });
    const applied: RuleSet[] = [];
    // a poll far beyond the test: only the watcher can see the swap
    const source = new FileRuleSource(cm.dir, 600_000, silent, (rs) => applied.push(rs));
    cleanup.push(() => source.stop());
    await source.load();
    source.start();
    expect(applied.at(-1)!.http[0]!.mode).toBe('legacy');
    cm.update({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': http('new') });
    const since = Date.now();
    while (applied.at(-1)!.http[0]!.mode !== 'new') {
      expect(Date.now() - since, 'the swap was not noticed').toBeLessThan(3_000);
      await sleep(20);
    }
    expect(source.status().state).toBe('ready');
  });

  it('a start on a store that holds rules does not read the rule folder (gone or broken after the first start)', async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'configmap_seed');
    cleanup.push(() => db.drop());
    const cm = configMapVolume({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': http('legacy') });
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-state-'));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const first = await openStore({ url: db.url, rulesDir: cm.dir, stateDir, adminToken: undefined, log: silent });
    expect(await first.store.currentVersion()).toBe(1);
    await first.close();
    const again = await openStore({ url: db.url, rulesDir: path.join(cm.dir, 'missing'), stateDir, adminToken: undefined, log: silent });
    expect(await again.store.currentVersion()).toBe(1);
    await again.close();
  });
});
