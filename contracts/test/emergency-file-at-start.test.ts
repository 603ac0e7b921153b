/**
 * The emergency override file found at start, read before the first rules are served (the
 * gateway and the HL7 adapter load it first, so that an instance restarted mid-incident starts
 * with it): its log line said "emergency override removed", the one line an operator reads to
 * know break glass is in force, because the apply was logged only with rules already served.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { EmergencyOverrideFile } from '../src/rule-sources/emergency-file.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('an override found before any rules are served is logged as applied, naming what the file names', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-emergency-start-'));
  const file = path.join(dir, 'emergency-legacy.yaml');
  writeFileSync(file, 'rules: [patients-read]\nreason: patient-service answers 500\nby: j.doe\n');
  const lines: { level: number; msg: string; rules?: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) });
  const installed: ReadonlySet<string>[] = [];
  const emergency = new EmergencyOverrideFile({
    file,
    log,
    component: 'test',
    fold: (ruleSet, override) => ({ ruleSet, pinned: new Set(override && override.rules !== 'all' ? override.rules : []), unknown: [] }),
    install: (f) => void installed.push(f.pinned),
    describe: () => ({ status: {}, log: {} }),
  });
  await emergency.load();
  expect(lines.map((l) => [l.level, l.msg.split(':')[0], l.rules])).toEqual([[40, 'EMERGENCY OVERRIDE applied', ['patients-read']]]);
  // the rules, once served, are served with it
  emergency.serve({ upstreams: {}, http: [] });
  expect(installed).toEqual([new Set(['patients-read'])]);
  expect(emergency.status().override).toMatchObject({ rules: ['patients-read'], by: 'j.doe', pinned: ['patients-read'] });
  await emergency.stop();
});
