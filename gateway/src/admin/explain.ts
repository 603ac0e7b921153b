/**
 * "Where would this request go, and why?", answered with the same router and the same
 * decision the proxy uses, for the rule set given.
 */
import { METHODS, type IncomingHttpHeaders } from 'node:http';
import type { RuleSet } from '@ficus/contracts';
import { refusedRequestOutcome } from './circuit-impact.js';
import { ECHO_DETAIL, isEchoMethod } from '../proxy/problem-response.js';
import { decide } from '../routing/decide.js';
import { ambiguityDetail, AMBIGUOUS_SLUG, FIRST_COPY_ONLY } from '../routing/repeated-values.js';
import { BadTargetError, parseRequestTarget } from '../routing/request-target.js';
import { isAmbiguous, Router, type RouterOptions } from '../routing/router.js';

export interface Explanation {
  rule: string | null;
  mode: string | null;
  target: string | null;
  reason: string;
  /** held in legacy by this instance's emergency override file, whatever the rule's mode */
  emergency?: true;
}

/**
 * `circuitOf` tells this instance's circuit state of an upstream, when known; `routing`, how the
 * gateway matches paths; `heldBy`, the emergency override file that holds a rule in legacy on
 * this instance (the proxy sends such a rule's requests to legacy, whatever its mode).
 */
export function explain(
  ruleSet: RuleSet,
  method: string,
  path: string,
  headerPairs: string[],
  circuitOf: (upstream: string) => string | undefined = () => undefined,
  routing: RouterOptions = {},
  heldBy: (ruleId: string) => string | undefined = () => undefined,
): Explanation {
  // Node's parser takes only the methods it knows, case-sensitively: `get` never reaches a rule
  if (!METHODS.includes(method)) throw new BadTargetError(`"${method}" is not a method the gateway takes: methods are case-sensitive (GET, not get) and Node's HTTP parser knows a fixed list; the gateway answers 400 and consults no rule`);
  // headers as the proxy sees them: a repeated name joined as Node joins it (or its first copy
  // kept, for the names Node keeps one of), and the raw list
  const headers: IncomingHttpHeaders = {};
  const rawHeaders: string[] = [];
  for (const pair of headerPairs) {
    const colon = pair.indexOf(':');
    if (colon <= 0) throw new BadTargetError(`header "${pair}" is not name:value`);
    const name = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    const before = headers[lower];
    if (before === undefined) headers[lower] = value;
    else if (!FIRST_COPY_ONLY.has(lower)) headers[lower] = `${before as string}${lower === 'cookie' ? '; ' : ', '}${value}`;
    rawHeaders.push(name, value);
  }
  const target = parseRequestTarget(path, routing.encodedSlashes);
  if (isEchoMethod(method) || method === 'CONNECT') {
    return { rule: null, mode: null, target: null, reason: `the gateway answers ${method} itself with 501 and consults no rule: ${ECHO_DETAIL}` };
  }
  const router = new Router(ruleSet, routing);
  const match = router.route(method, target, headers, rawHeaders);
  if (!match) return { rule: null, mode: null, target: null, reason: `no rule matches ${method} ${target.forwardPath}: the gateway answers 404` };
  const rule = match.rule;
  if (isAmbiguous(match)) {
    return { rule: rule.id, mode: rule.mode, target: null, reason: `rule "${rule.id}" (#${rule.index + 1}) cannot tell: ${ambiguityDetail(rule.id, match.ambiguous)}. The gateway answers 400 ${AMBIGUOUS_SLUG} and tries no later rule` };
  }
  const where = `rule "${rule.id}" (#${rule.index + 1}) matches ${method} on ${match.pattern.pattern.source}`;
  const file = heldBy(rule.id);
  if (file !== undefined) {
    // before 7 December 2026 explain gave the stored mode's target here, which the proxy does not use
    return { rule: rule.id, mode: rule.mode, target: rule.legacy, emergency: true, reason: `${where}; mode ${rule.mode}${rule.mode === 'legacy' ? ', and' : ', but'} the emergency override file ${file} on this instance holds it in legacy: every request goes to ${rule.legacy} (x-ficus-route: ${rule.id}; legacy (emergency)) until the file is removed` };
  }
  const d = decide(match, headers, target, rawHeaders);
  const upstream = d.toTarget ? rule.target! : rule.legacy;
  let why: string;
  switch (rule.mode) {
    case 'legacy':
      why = 'mode legacy: every request goes to legacy';
      break;
    case 'shadow':
      why = `mode shadow: legacy answers; a copy goes to ${rule.target ?? '?'} in the background and the answers are compared${rule.shadowWrites || ['GET', 'HEAD', 'OPTIONS'].includes(method) ? '' : ' (not for this method: writes are not shadowed)'}`;
      break;
    case 'new':
      why = `mode new: every request goes to ${upstream}${rule.fallback ? '; safe requests fall back to legacy if it fails' : ''}`;
      break;
    case 'retired':
      why = `mode retired: every request goes to ${upstream}; legacy is never called`;
      break;
    case 'canary': {
      const percent = rule.threshold / 100;
      if (d.key === undefined) why = `canary ${percent} %: the request carries no sticky key, so it goes to legacy`;
      else if (d.bucket === undefined) why = `canary ${percent} %: nobody moves at 0 %, so key "${d.key}" goes to legacy`;
      else why = `canary ${percent} %: key "${d.key}" falls in bucket ${d.bucket} of 10000, ${d.toTarget ? 'below' : 'not below'} ${rule.threshold}, so it goes to ${upstream}`;
    }
  }
  let now = '';
  if (d.toTarget && circuitOf(upstream) === 'open') {
    const safe = ['GET', 'HEAD', 'OPTIONS'].includes(method);
    now = `; but the circuit of ${upstream} is open on this instance: ${refusedRequestOutcome(rule.mode, rule.fallback, safe)}`;
  }
  return { rule: rule.id, mode: rule.mode, target: upstream, reason: `${where}; ${why}${now}` };
}
