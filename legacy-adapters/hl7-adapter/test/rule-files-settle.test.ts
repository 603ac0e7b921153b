/**
 * FICUS_RULES_SETTLE_MS in the HL7 adapter, as in the gateway (the README says the adapter's
 * FICUS_RULES_* settings work as the gateway's): checked at start, and the file source runs with
 * the value given (shown in /readyz).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@ficus/contracts';
import { loadAdapterConfig } from '../src/config.js';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';

describe('the HL7 adapter with FICUS_RULES_SETTLE_MS', () => {
  let a: AdapterUnderTest;
  beforeAll(async () => {
    a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'legacy'), env: { FICUS_RULES_SETTLE_MS: '1200' } });
  });
  afterAll(() => a?.close());

  it('reads its rule files with that settle time, and says so in /readyz', async () => {
    const ready = (await (await fetch(`${a.apiUrl}/readyz`)).json()) as { rules: { kind: string; detail: { settleMs?: number } } };
    expect([ready.rules.kind, ready.rules.detail.settleMs]).toEqual(['files', 1200]);
  });

  it('is 300 ms unless set, and refuses a value out of range by name', () => {
    expect(loadAdapterConfig({}).FICUS_RULES_SETTLE_MS).toBe(300);
    let problems: string[] = [];
    try {
      loadAdapterConfig({ FICUS_RULES_SETTLE_MS: '20' });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual(['FICUS_RULES_SETTLE_MS: must be at least 50 (it is "20")']);
  });
});
