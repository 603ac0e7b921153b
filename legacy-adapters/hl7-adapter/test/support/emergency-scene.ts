/**
 * What the emergency override tests of the HL7 adapter share: rules with ADT moved to
 * patient-service (`adt-patient-events`, as in routing-rules/20-hl7.yaml), and reads of what the
 * adapter says about the override (/readyz, /metrics: no token needed, so they answer with the
 * rule store down too).
 */
import { hl7Rules } from './adapter-harness.js';

/** the harness's rules, with the ADT rule under its real name and in `adtMode` */
export function adtMovedRules(legacyInbound: string, adtMode: 'legacy' | 'dual' | 'new' = 'new'): Record<string, string> {
  return {
    ...hl7Rules(legacyInbound, 'legacy'),
    '20-hl7.yaml': `hl7:
  - id: adt-patient-events
    match: { messageTypes: [ADT] }
    mode: ${adtMode}
    target: patient-service
  - id: lab-results
    match: { messageTypes: [ORU] }
    mode: new
    target: results-service
  - id: hl7-default
    match: {}
    mode: legacy
`,
  };
}

export interface Ready {
  status: string;
  rules: { state: string; loadedAt?: string; detail: { store?: string; servingFrom?: string } };
  emergency?: {
    file: string;
    override?: { rules: unknown; reason?: string; by?: string; since: string; pinned: string[]; unknown: string[]; http: string[] };
    lastRefused?: { at: string; issues: string[] };
  };
}

export async function readyz(apiUrl: string): Promise<{ code: number; body: Ready }> {
  const r = await fetch(`${apiUrl}/readyz`);
  return { code: r.status, body: (await r.json()) as Ready };
}

/** ficus_hl7_emergency_override for a rule; undefined when not exported */
export async function overrideMetric(apiUrl: string, rule: string): Promise<number | undefined> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_hl7_emergency_override{rule="${rule}"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}
