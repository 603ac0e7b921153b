/**
 * FICUS_RULES_SETTLE_MS: how long the rule folder must stay the same before a change is read
 * (file mode). It is checked at start like every setting, a gateway runs with the value it was
 * given (shown in /readyz), and changes still apply under it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@ficus/contracts';
import { loadGatewayConfig } from '../src/config.js';
import { startGatewayUnderTest, upstreamsYaml, type GatewayUnderTest } from './support/gateway-harness.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

const rules = (mode: string) => `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: ${mode}
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

describe('FICUS_RULES_SETTLE_MS', () => {
  it('is 300 ms unless set, takes a whole number of milliseconds from 50 to 10000, and refuses others by name', () => {
    expect(loadGatewayConfig({}).FICUS_RULES_SETTLE_MS).toBe(300);
    expect(loadGatewayConfig({ FICUS_RULES_SETTLE_MS: '1200' }).FICUS_RULES_SETTLE_MS).toBe(1200);
    const problems = (value: string) => {
      try {
        loadGatewayConfig({ FICUS_RULES_SETTLE_MS: value });
      } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
      }
      return [];
    };
    expect(problems('0')).toEqual(['FICUS_RULES_SETTLE_MS: must be at least 50 (it is "0")']);
    expect(problems('60000')).toEqual(['FICUS_RULES_SETTLE_MS: must be at most 10000 (it is "60000")']);
    expect(problems('soon')).toEqual(['FICUS_RULES_SETTLE_MS: must be a whole number (it is "soon")']);
  });
});

describe('a gateway with FICUS_RULES_SETTLE_MS set', () => {
  let legacy: TestUpstream;
  let fresh: TestUpstream;
  let gw: GatewayUnderTest;

  beforeAll(async () => {
    legacy = await startTestUpstream('legacy');
    fresh = await startTestUpstream('new');
    gw = await startGatewayUnderTest({ '00-upstreams.yaml': upstreamsYaml({ legacy: legacy.url, 'patient-service': fresh.url }), '10-http.yaml': rules('legacy') }, { FICUS_RULES_SETTLE_MS: '1200' });
  });
  afterAll(async () => {
    await gw?.close();
    await legacy?.close();
    await fresh?.close();
  });

  it('reads changes with that settle time, and says so in /readyz', async () => {
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { rules: { kind: string; detail: { settleMs?: number } } };
    expect([ready.rules.kind, ready.rules.detail.settleMs]).toEqual(['files', 1200]);
    const route = async () => (await fetch(`${gw.url}/api/patients/100001`)).headers.get('x-ficus-route');
    expect(await route()).toBe('patients-read; legacy');
    gw.writeRules('10-http.yaml', rules('new'));
    // applied once the folder has been still for the settle time: waited for, not timed
    for (let i = 0; i < 500 && (await route()) !== 'patients-read; patient-service'; i++) await sleep(20);
    expect(await route()).toBe('patients-read; patient-service');
  });
});
