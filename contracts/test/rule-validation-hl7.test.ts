/** Validation of HL7 rules: inbounds, targets, shadowing, names shared with HTTP rules, parity lookups. */
import { describe, expect, it } from 'vitest';
import { formatIssue, parseRuleYaml, validateRuleDocuments } from '../src/index.js';
import { errorsOf, TAIL, UPSTREAMS } from './support/rule-check.js';

describe('HL7 rule validation', () => {
  it('checks HL7 rules: the inbound is mllp://, the target a declared service, no rule shadowed', () => {
    const errors = errorsOf(
      `hl7:
  - id: adt
    match: { messageTypes: [ADT] }
    mode: dual
    target: patient-servce
  - id: adt-a01
    match: { messageTypes: [ADT], triggerEvents: [A01] }
    mode: new
    target: patient-service
  - id: oru
    match: { messageTypes: [ORU] }
    mode: new
  - id: wrong-inbound
    match: { messageTypes: [MDM] }
    mode: legacy
    legacy: patient-service
  - id: rest
    match: {}
    mode: legacy
http:
${TAIL}`,
      UPSTREAMS + '  legacy-hl7: { url: "mllp://127.0.0.1:2576" }\n',
    );
    expect(errors.map(formatIssue)).toEqual([
      'http.yaml:5:5: rule "adt", field "target": unknown target "patient-servce": name a declared new service (its HL7 queue is hl7.patient-servce)',
      'http.yaml:10:5: rule "oru": mode "new" needs a "target" (the new service that takes the messages)',
      'http.yaml:16:5: rule "wrong-inbound", field "legacy": upstream "patient-service" is not an HL7 inbound (its url is http://127.0.0.1:8101, not mllp://)',
      'http.yaml:7:5: rule "adt-a01", field "match": can never match: rule "adt" (http.yaml:2) comes first and takes every message this one matches',
    ]);
  });

  it('refuses an HTTP rule that names an HL7 inbound, and an HL7 rule id that an HTTP rule uses', () => {
    const errors = errorsOf(
      `http:
  - id: reports
    match: { path: /reports/** }
    mode: new
    target: legacy-hl7
${TAIL}hl7:
  - id: reports
    match: {}
    mode: legacy
`,
      UPSTREAMS + '  legacy-hl7: { url: "mllp://127.0.0.1:2576" }\n',
    );
    expect(errors.map(formatIssue)).toEqual([
      'http.yaml:10:5: rule "reports", field "id": duplicate rule id "reports", first used (http.yaml:2)',
      'http.yaml:5:5: rule "reports", field "target": upstream "legacy-hl7" is not an HTTP upstream (mllp://127.0.0.1:2576)',
    ]);
  });

  it('checks HL7 parity lookups', () => {
    const hl7 = (lookups: string) =>
      validateRuleDocuments([
        parseRuleYaml(`upstreams:
  legacy: { url: http://127.0.0.1:8000 }
  legacy-hl7: { url: mllp://127.0.0.1:2576 }
  patient-service: { url: http://127.0.0.1:8101 }
http:
${TAIL}hl7:
  - id: adt
    match: { messageTypes: [ADT] }
    mode: dual
    target: patient-service
    parity: { lookups: [${lookups}] }
  - id: rest
    match: {}
    mode: legacy
`, 'r.yaml').doc,
      ]);
    expect(hl7('{ path: "/api/patients/{PID-3.1}" }').ok).toBe(true);
    expect(hl7('{ path: "/api/patients/{MRN}" }').ok).toBe(true);
    const r = hl7('{ target: legacy-hl7, path: "/api/patients/{PID3}" }');
    expect(r.ok ? [] : r.errors.map((e) => e.reason)).toEqual(['upstream "legacy-hl7" is not an HTTP upstream (mllp://127.0.0.1:2576)', 'field references are written {SEG-n.c}, e.g. {PID-3.1}, or {MRN}']);
  });
});
