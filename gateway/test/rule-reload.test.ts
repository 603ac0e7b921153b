import { rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleLoadError } from '@ficus/contracts';
import { startGatewayUnderTest, startLegacyAndNew, upstreamsYaml, type GatewayUnderTest, type TwoUpstreams } from './support/gateway-harness.js';
import type { TestUpstream } from './support/test-upstream.js';

let scene: TwoUpstreams;
let legacy: TestUpstream;
let gw: GatewayUnderTest;

const rulesWith = (mode: string) => `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: ${mode}
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ '00-upstreams.yaml': upstreamsYaml({ legacy: u.legacy, 'patient-service': u.fresh }), '10-http.yaml': rulesWith('legacy') }));
  ({ legacy, gw } = scene);
});
afterAll(() => scene?.close());

const route = async () => (await fetch(gw.url + '/api/patients/100001')).headers.get('x-ficus-route');

describe('rule files', () => {
  it('applies a valid change within a second, without a restart', async () => {
    expect(await route()).toBe('patients-read; legacy');
    const written = Date.now();
    gw.writeRules('10-http.yaml', rulesWith('new'));
    while ((await route()) !== 'patients-read; patient-service') {
      expect(Date.now() - written).toBeLessThan(1_000);
      await sleep(20);
    }
  });

  it('refuses an invalid change with file, line and reason, and keeps serving the previous rules', async () => {
    gw.writeRules('10-http.yaml', rulesWith('newest'));
    let ready: { status: string; rules: { detail: { lastRefusedChange?: { issues: string[] } } } } | undefined;
    for (let i = 0; i < 100; i++) {
      ready = (await (await fetch(gw.url + '/readyz')).json()) as typeof ready;
      if (ready?.rules.detail.lastRefusedChange) break;
      await sleep(20);
    }
    expect(ready?.status).toBe('degraded');
    expect(ready?.rules.detail.lastRefusedChange?.issues).toEqual([
      expect.stringMatching(/10-http\.yaml:4:5: rule "patients-read", field "mode": must be one of legacy, shadow, canary, new, retired$/),
    ]);
    expect(await route()).toBe('patients-read; patient-service');
    const metrics = await (await fetch(gw.url + '/metrics')).text();
    expect(metrics).toMatch(/ficus_rule_reloads_total\{result="refused"\} [1-9]/);

    // fixing the file clears the error
    gw.writeRules('10-http.yaml', rulesWith('legacy'));
    for (let i = 0; i < 100 && (await route()) !== 'patients-read; legacy'; i++) await sleep(20);
    expect(await route()).toBe('patients-read; legacy');
    const after = (await (await fetch(gw.url + '/readyz')).json()) as { status: string };
    expect(after.status).toBe('ready');
  });

  it('refuses a change that leaves no HTTP rules (a truncated or deleted file), as an invalid one', async () => {
    type Ready = { status: string; rules: { detail: { lastRefusedChange?: { issues: string[] } } } };
    const refusal = async (): Promise<Ready | undefined> => {
      for (let i = 0; i < 100; i++) {
        const ready = (await (await fetch(gw.url + '/readyz')).json()) as Ready;
        if (ready.rules.detail.lastRefusedChange) return ready;
        await sleep(20);
      }
      return undefined;
    };
    const refusedBefore = Number(/ficus_rule_reloads_total\{result="refused"\} (\d+)/.exec(await (await fetch(gw.url + '/metrics')).text())?.[1] ?? 0);
    expect(await route()).toBe('patients-read; legacy');

    gw.writeRules('10-http.yaml', '');
    const truncated = await refusal();
    expect(truncated?.status).toBe('degraded');
    expect(truncated?.rules.detail.lastRefusedChange?.issues).toEqual([expect.stringMatching(/10-http\.yaml: holds no HTTP rules any more: the change leaves no HTTP rules \(2 serve now\): every request would get 404$/)]);
    expect(await route()).toBe('patients-read; legacy');
    const metrics = await (await fetch(gw.url + '/metrics')).text();
    expect(Number(/ficus_rule_reloads_total\{result="refused"\} (\d+)/.exec(metrics)?.[1])).toBe(refusedBefore + 1);

    gw.writeRules('10-http.yaml', rulesWith('legacy'));
    for (let i = 0; i < 100 && ((await (await fetch(gw.url + '/readyz')).json()) as Ready).status !== 'ready'; i++) await sleep(20);
    rmSync(path.join(gw.rulesDir, '10-http.yaml'));
    const deleted = await refusal();
    expect(deleted?.status).toBe('degraded');
    expect(deleted?.rules.detail.lastRefusedChange?.issues).toEqual([expect.stringMatching(/10-http\.yaml: deleted: the change leaves no HTTP rules \(2 serve now\)/)]);
    expect(await route()).toBe('patients-read; legacy');

    gw.writeRules('10-http.yaml', rulesWith('legacy'));
    for (let i = 0; i < 100 && ((await (await fetch(gw.url + '/readyz')).json()) as Ready).status !== 'ready'; i++) await sleep(20);
    expect(((await (await fetch(gw.url + '/readyz')).json()) as Ready).status).toBe('ready');
  });

  it('says a file holding the catch-all was deleted, when other files still hold HTTP rules', async () => {
    type Ready = { status: string; rules: { detail: { lastRefusedChange?: { issues: string[] } } } };
    const ready = async () => (await (await fetch(gw.url + '/readyz')).json()) as Ready;
    gw.writeRules('05-fhir.yaml', 'http:\n  - id: fhir-read\n    match: { methods: [GET], path: /fhir/** }\n    mode: legacy\n    target: patient-service\n');
    for (let i = 0; i < 100 && (await (await fetch(gw.url + '/fhir/Patient/1')).headers.get('x-ficus-route')) !== 'fhir-read; legacy'; i++) await sleep(20);
    rmSync(path.join(gw.rulesDir, '10-http.yaml'));
    let issues: string[] | undefined;
    for (let i = 0; i < 100 && !issues; i++) {
      issues = (await ready()).rules.detail.lastRefusedChange?.issues;
      if (!issues) await sleep(20);
    }
    expect(issues).toEqual([expect.stringMatching(/10-http\.yaml:\d+:\d+: rule "legacy-default": the file was deleted: the change removes the catch-all \("\/\*\*" for every method\) that serves now/)]);
    expect(await route()).toBe('patients-read; legacy');
    gw.writeRules('10-http.yaml', rulesWith('legacy'));
    rmSync(path.join(gw.rulesDir, '05-fhir.yaml'));
    for (let i = 0; i < 100 && (await ready()).status !== 'ready'; i++) await sleep(20);
    expect((await ready()).status).toBe('ready');
  });

  it('refuses to start on invalid rules, saying where and why', async () => {
    const err = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacy.url }), 'b.yaml': rulesWith('legacy') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleLoadError);
    expect((err as Error).message).toMatch(/b\.yaml:5:5: rule "patients-read", field "target": unknown upstream "patient-service" \(declared: legacy\)/);
  });
});
