/**
 * Which emergency override file holds a rule in legacy, and how that is said. A flip of a held
 * rule is stored, and the store answers with the new mode, but the component keeps serving the
 * rule from legacy until its file is removed: the gateway's file holds HTTP rules, the HL7
 * adapter's (a file of its own, read through GET /api/hl7/emergency) HL7 rules. Without this an
 * admin flipped patients-read to new, saw "new" in the table, and the gateway still sent every
 * request to legacy. No imports but the clock: the unit test runs it under Node.
 */
import { since } from './format.js';

export interface Hold {
  component: 'gateway' | 'hl7-adapter';
  file: string;
  since: string;
  by?: string | undefined;
  reason?: string | undefined;
  /** the HL7 adapter instance that answered (the gateway's is the one this page talks to) */
  instance?: string | undefined;
}

/** the gateway's override as GET /api/rules gives it (types.ts RulesAnswer['emergency']) */
interface GatewayOverride {
  pinned: string[];
  file: string;
  since: string;
  by?: string;
  reason?: string;
}

/** the adapter's as GET /api/hl7/emergency gives it (@ficus/contracts Hl7EmergencyAnswer) */
interface AdapterAnswer {
  instance: { hostname: string };
  file: string;
  override?: { pinned: string[]; since: string; by?: string; reason?: string };
}

/** The file holding this rule in legacy now, as far as the page knows it; null: none does. */
export function holdOf(kind: 'http' | 'hl7', ruleId: string, gateway: GatewayOverride | undefined, adapter: AdapterAnswer | undefined): Hold | null {
  if (kind === 'http') {
    if (!gateway?.pinned.includes(ruleId)) return null;
    return { component: 'gateway', file: gateway.file, since: gateway.since, by: gateway.by, reason: gateway.reason };
  }
  const o = adapter?.override;
  if (!adapter || !o?.pinned.includes(ruleId)) return null;
  return { component: 'hl7-adapter', file: adapter.file, since: o.since, by: o.by, reason: o.reason, instance: adapter.instance.hostname };
}

const where = (h: Hold) => (h.component === 'gateway' ? 'this gateway instance' : `the HL7 adapter${h.instance ? ` (instance ${h.instance})` : ''}`);
const serves = (h: Hold) => (h.component === 'gateway' ? 'the gateway keeps sending its requests to legacy' : 'the HL7 adapter keeps sending its messages to the legacy inbound only');

/** `the emergency override file /x.yaml on this gateway instance, since 14:03:07 by j.doe (“why”)` */
export function holdSource(h: Hold, now = Date.now()): string {
  return `the emergency override file ${h.file} on ${where(h)}, since ${since(h.since, now)}${h.by ? ` by ${h.by}` : ''}${h.reason ? ` (“${h.reason}”)` : ''}`;
}

/** In the flip dialog, before the flip. */
export function holdBefore(ruleId: string, h: Hold, now = Date.now()): string {
  return `${ruleId} is held in legacy by ${holdSource(h, now)}. Whatever mode you choose here, ${serves(h)} until the file is removed: the flip is stored as a new version and serves only from then.`;
}

/** After a flip of a held rule to a mode other than legacy. */
export function holdAfter(ruleId: string, h: Hold, now = Date.now()): string {
  return `Stored, but not served: ${holdSource(h, now)} holds ${ruleId} in legacy, and ${serves(h)} until the file is removed.`;
}

/** In the rules table, under the mode the store has. */
export function holdInRow(h: Hold, now = Date.now()): string {
  return `serves legacy: held by ${h.file} on ${h.component === 'gateway' ? 'the gateway' : 'the HL7 adapter'} since ${since(h.since, now)}${h.by ? ` by ${h.by}` : ''}`;
}

const list = (ids: readonly string[]) => ids.join(', ');

/**
 * What the gateway's notice says of the HL7 rules its file names (or of HL7 rules under `rules:
 * all`). The gateway routes no HL7, so whether they are held is said by the HL7 adapter's file,
 * which may be this very file (the demo shares one) or another: "not held by this file" beside a
 * row the adapter's reading of that same file held read as a contradiction. `adapter`: its answer
 * while its reads succeed; undefined: not known. Null when the file names no HL7 rule.
 */
export function hl7NamedNote(e: { hl7?: string[] | undefined; rules?: 'all' | string[] | undefined }, adapter: AdapterAnswer | undefined): string | null {
  const named = e.hl7 ?? [];
  const all = named.length === 0 && e.rules === 'all';
  if (named.length === 0 && !all) return null;
  const head = all ? 'HL7 rules: the gateway routes no HL7 messages (rules: all is all of its HTTP rules here)' : `${list(named)}: HL7. The gateway routes no HL7 messages`;
  const one = !all && named.length === 1;
  if (!adapter) return `${head}; the HL7 adapter holds ${one ? 'this rule' : 'these rules'} in legacy only if its own emergency file names ${one ? 'it' : 'them'}, and whether it does is not known (said below).`;
  const pinned = adapter.override?.pinned ?? [];
  const held = all ? pinned : named.filter((id) => pinned.includes(id));
  const free = all ? [] : named.filter((id) => !pinned.includes(id));
  const parts: string[] = [];
  if (held.length > 0) parts.push(`the HL7 adapter holds ${list(held)} in legacy by its own emergency file ${adapter.file} (said below)`);
  if (all && held.length === 0) parts.push(`the HL7 adapter's emergency file ${adapter.file} holds none in legacy: their messages go by their modes`);
  if (free.length > 0) {
    const why = adapter.override ? 'does not name' : 'is not in force, and so does not hold';
    parts.push(`the HL7 adapter's emergency file ${adapter.file} ${why} ${list(free)}: ${free.length === 1 ? 'its messages go by its mode' : 'their messages go by their modes'}`);
  }
  return `${head}; ${parts.join('; ')}.`;
}
