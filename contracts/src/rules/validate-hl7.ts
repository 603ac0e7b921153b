/**
 * The checks of HL7 rules by meaning: the legacy HL7 inbound must be an mllp:// upstream, the
 * target a declared new service (its queue carries the messages), no rule may be shadowed,
 * and the last rule should take every message.
 */
import { DEFAULT_LEGACY_HL7_UPSTREAM, isHttpUpstream, type Hl7Match, type Hl7Rule, type Upstream } from './model.js';
import { issue, placeOf, type Collector, type DocPath, type RuleDocument } from './rule-issues.js';

export interface PlacedHl7Rule {
  rule: Hl7Rule;
  doc: RuleDocument;
  index: number;
}

const LISTS = ['messageTypes', 'triggerEvents', 'sendingApplications', 'sendingFacilities'] as const;

/** true when every message `b` matches is matched by `a` (each of a's lists absent, or a superset) */
export function hl7Covers(a: Hl7Match, b: Hl7Match): boolean {
  return LISTS.every((k) => {
    const la = a[k];
    if (!la) return true;
    const lb = b[k];
    return lb !== undefined && lb.every((v) => la.includes(v));
  });
}

/** `{PID-3.1}`-style references to message fields, and `{MRN}` (the patient's MRN: PID-3's repetition typed MR, else its first), in a lookup path. */
export const FIELD_REFERENCE = /\{(MRN|[A-Z][A-Z0-9]{2}(?:\[\d+\])?-\d+(?:\(\d+\))?(?:\.\d+(?:\.\d+)?)?)\}/g;

function checkLookups(c: Collector, rule: Hl7Rule, doc: RuleDocument, index: number, upstreams: Record<string, Upstream>) {
  const lookups = rule.parity?.lookups ?? [];
  if (rule.parity && rule.mode !== 'dual' && lookups.length > 0) {
    c.warnings.push(issue(doc, ['hl7', index, 'parity'], `parity is compared in mode "dual" only (this rule is "${rule.mode}")`, rule.id));
  }
  lookups.forEach((l, i) => {
    const at: DocPath = ['hl7', index, 'parity', 'lookups', i];
    for (const side of ['legacy', 'target'] as const) {
      const name = side === 'legacy' ? (l.legacy ?? 'legacy') : (l.target ?? rule.target);
      if (!name) {
        c.errors.push(issue(doc, [...at, side], 'name the new service\'s HTTP upstream (the rule has no target)', rule.id));
        continue;
      }
      const u = upstreams[name];
      if (!u) c.errors.push(issue(doc, [...at, side], `unknown upstream "${name}"`, rule.id));
      else if (!isHttpUpstream(u)) c.errors.push(issue(doc, [...at, side], `upstream "${name}" is not an HTTP upstream (${u.url})`, rule.id));
    }
    const stray = l.path.replace(FIELD_REFERENCE, '').match(/[{}]/);
    if (stray) c.errors.push(issue(doc, [...at, 'path'], 'field references are written {SEG-n.c}, e.g. {PID-3.1}, or {MRN}', rule.id));
    else if (!FIELD_REFERENCE.test(l.path)) c.warnings.push(issue(doc, [...at, 'path'], 'the path names no message field, so every message reads the same record', rule.id));
    FIELD_REFERENCE.lastIndex = 0;
  });
}

export function checkHl7Rules(c: Collector, placed: PlacedHl7Rule[], upstreams: Record<string, Upstream>): void {
  for (const { rule, doc, index } of placed) {
    const at = (...rest: DocPath) => ['hl7', index, ...rest];
    const fail = (path: DocPath, reason: string) => c.errors.push(issue(doc, path, reason, rule.id));
    const legacy = rule.legacy ?? DEFAULT_LEGACY_HL7_UPSTREAM;
    const inbound = upstreams[legacy];
    if (!inbound) fail(rule.legacy ? at('legacy') : at(), `unknown upstream "${legacy}": declare the legacy HL7 inbound (url: mllp://host:port)`);
    else if (!/^mllps?:/i.test(inbound.url)) fail(rule.legacy ? at('legacy') : at(), `upstream "${legacy}" is not an HL7 inbound (its url is ${inbound.url}, not mllp://)`);
    if (rule.target !== undefined) {
      const target = upstreams[rule.target];
      if (!target) fail(at('target'), `unknown target "${rule.target}": name a declared new service (its HL7 queue is hl7.${rule.target})`);
      else if (!isHttpUpstream(target)) fail(at('target'), `target "${rule.target}" is an HL7 inbound; name the new service`);
    } else if (rule.mode !== 'legacy') {
      fail(at(), `mode "${rule.mode}" needs a "target" (the new service that takes the messages)`);
    }
    checkLookups(c, rule, doc, index, upstreams);
  }
  placed.forEach((later, j) => {
    const earlier = placed.slice(0, j).find((e) => hl7Covers(e.rule.match, later.rule.match));
    if (earlier) {
      c.errors.push(
        issue(
          later.doc,
          ['hl7', later.index, 'match'],
          `can never match: rule "${earlier.rule.id}"${placeOf(earlier.doc, 'hl7', earlier.index)} comes first and takes every message this one matches`,
          later.rule.id,
        ),
      );
    }
  });
  const last = placed[placed.length - 1];
  if (last && LISTS.some((k) => last.rule.match[k] !== undefined)) {
    c.warnings.push(issue(last.doc, ['hl7', last.index], 'the last HL7 rule does not take every message: unmatched messages are refused (AR)', last.rule.id));
  }
}
