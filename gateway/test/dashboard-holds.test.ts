/**
 * The dashboard's pure parts for an incident: which emergency override file holds a rule (the
 * gateway's for HTTP rules, the HL7 adapter's for HL7 rules, never the other way round), and why
 * a component gave no figures: a timed-out read (504) is not a component that is not running.
 * In a browser: dashboard-emergency.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { componentTrouble, troubleText } from '../dashboard/src/components.js';
import { hl7NamedNote, holdAfter, holdBefore, holdOf } from '../dashboard/src/holds.js';
import { ruleLabel, sendsNothing } from '../dashboard/src/upstreams.js';

const since = '2026-12-07T02:10:00.000Z';
const gateway = { pinned: ['patients-read'], hl7: ['adt-patient-events'], file: '/var/lib/ficus/emergency-legacy.yaml', since, by: 'j.doe', reason: 'patient-service answers 500' };
const adapter = { instance: { hostname: 'hl7-0', pid: 1 }, file: '/etc/ficus/emergency/emergency-legacy.yaml', override: { pinned: ['adt-patient-events'], since, by: 'm.ng', http: ['patients-read'] } };

describe('which emergency file holds a rule', () => {
  it("takes HTTP rules from the gateway's file and HL7 rules from the adapter's only", () => {
    expect(holdOf('http', 'patients-read', gateway, adapter)).toEqual({ component: 'gateway', file: gateway.file, since, by: 'j.doe', reason: 'patient-service answers 500' });
    expect(holdOf('hl7', 'adt-patient-events', gateway, adapter)).toEqual({ component: 'hl7-adapter', file: adapter.file, since, by: 'm.ng', reason: undefined, instance: 'hl7-0' });
    // named in the gateway's file, but the gateway routes no HL7; an HTTP name in the adapter's is the gateway's business
    expect(holdOf('hl7', 'adt-patient-events', gateway, undefined)).toBeNull();
    expect(holdOf('http', 'patients-read', undefined, adapter)).toBeNull();
    expect(holdOf('http', 'patients-write', gateway, adapter)).toBeNull();
    expect(holdOf('hl7', 'adt-patient-events', undefined, { ...adapter, override: undefined })).toBeNull();
  });

  it('says it before and after a flip: the file, where, since when and by whom', () => {
    const now = Date.parse(since) + 60_000;
    const h = holdOf('http', 'patients-read', gateway, undefined)!;
    expect(holdBefore('patients-read', h, now)).toMatch(
      /^patients-read is held in legacy by the emergency override file \/var\/lib\/ficus\/emergency-legacy\.yaml on this gateway instance, since \d\d:\d\d:\d\d by j\.doe \(“patient-service answers 500”\)\. Whatever mode you choose here, the gateway keeps sending its requests to legacy until the file is removed/,
    );
    expect(holdAfter('adt-patient-events', holdOf('hl7', 'adt-patient-events', undefined, adapter)!, now)).toMatch(
      /^Stored, but not served: the emergency override file \/etc\/ficus\/emergency\/emergency-legacy\.yaml on the HL7 adapter \(instance hl7-0\), since \d\d:\d\d:\d\d by m\.ng holds adt-patient-events in legacy, and the HL7 adapter keeps sending its messages to the legacy inbound only until the file is removed\.$/,
    );
  });

  it("says of the HL7 rules the gateway's file names what the HL7 adapter's file does with them, one file for both or two", () => {
    const shared = { ...adapter, file: gateway.file };
    // the demo: one file, read by both; before, the notice said "not held by this file" beside a row the adapter held by it
    expect(hl7NamedNote(gateway, shared)).toBe(
      'adt-patient-events: HL7. The gateway routes no HL7 messages; the HL7 adapter holds adt-patient-events in legacy by its own emergency file /var/lib/ficus/emergency-legacy.yaml (said below).',
    );
    expect(hl7NamedNote({ hl7: ['adt-patient-events', 'oru-results'] }, adapter)).toBe(
      "adt-patient-events, oru-results: HL7. The gateway routes no HL7 messages; the HL7 adapter holds adt-patient-events in legacy by its own emergency file /etc/ficus/emergency/emergency-legacy.yaml (said below); the HL7 adapter's emergency file /etc/ficus/emergency/emergency-legacy.yaml does not name oru-results: its messages go by its mode.",
    );
    expect(hl7NamedNote(gateway, { ...adapter, override: undefined })).toBe(
      "adt-patient-events: HL7. The gateway routes no HL7 messages; the HL7 adapter's emergency file /etc/ficus/emergency/emergency-legacy.yaml is not in force, and so does not hold adt-patient-events: its messages go by its mode.",
    );
    expect(hl7NamedNote(gateway, undefined)).toBe(
      'adt-patient-events: HL7. The gateway routes no HL7 messages; the HL7 adapter holds this rule in legacy only if its own emergency file names it, and whether it does is not known (said below).',
    );
    expect(hl7NamedNote({ hl7: [], rules: 'all' }, shared)).toBe(
      'HL7 rules: the gateway routes no HL7 messages (rules: all is all of its HTTP rules here); the HL7 adapter holds adt-patient-events in legacy by its own emergency file /var/lib/ficus/emergency-legacy.yaml (said below).',
    );
    expect(hl7NamedNote({ hl7: [], rules: 'all' }, { ...adapter, override: undefined })).toBe(
      "HL7 rules: the gateway routes no HL7 messages (rules: all is all of its HTTP rules here); the HL7 adapter's emergency file /etc/ficus/emergency/emergency-legacy.yaml holds none in legacy: their messages go by their modes.",
    );
    expect(hl7NamedNote({ hl7: [], rules: ['patients-read'] }, adapter)).toBeNull();
  });

  it('labels a rule the file holds on the Upstreams panel', () => {
    expect(ruleLabel({ id: 'patients-read', mode: 'legacy', percent: null, emergency: true })).toBe('patients-read (legacy: held by the emergency file)');
    expect(sendsNothing({ emergency: true })).toBe(' – sends nothing here while the emergency file holds it');
    expect(sendsNothing({})).toBe(' – sends nothing here');
  });
});

describe('why a component behind the admin API gave no figures', () => {
  const timeout = { type: 'https://ficus.dev/problems/component-timeout', detail: 'the HL7 adapter at http://127.0.0.1:8091 (FICUS_HL7_API_URL) did not answer within 30 s' };

  it('says a 504 timed out, and that the component may well be running', () => {
    const t = componentTrouble(504, timeout)!;
    expect(t).toEqual({ kind: 'timeout', why: `HTTP 504: ${timeout.detail}` });
    const text = troubleText('The HL7 adapter', t);
    expect(text).toMatch(/^The HL7 adapter did not answer in time \(HTTP 504: .* within 30 s\)\. It may well be running/);
    expect(text).not.toMatch(/is not running/);
  });

  it('says not running for nothing listening (503) or no forwarder (404), answered badly for a broken answer (502)', () => {
    const refused = componentTrouble(503, { type: 'https://ficus.dev/problems/component-unavailable', detail: 'the HL7 adapter at http://127.0.0.1:8091 (FICUS_HL7_API_URL) does not answer (ECONNREFUSED); is it running?' })!;
    expect(refused.kind).toBe('down');
    expect(troubleText('The HL7 adapter', refused)).toMatch(/^The HL7 adapter is not running, or not reachable through the admin API \(HTTP 503: .*ECONNREFUSED/);
    expect(componentTrouble(404)).toEqual({ kind: 'down', why: 'HTTP 404' });
    expect(componentTrouble(502, { type: 'https://ficus.dev/problems/bad-component-response' })?.kind).toBe('bad');
  });

  it("leaves the component's own errors to the panel", () => {
    expect(componentTrouble(500, { type: 'https://ficus.dev/problems/internal-error' })).toBeNull();
    expect(componentTrouble(400)).toBeNull();
  });
});
