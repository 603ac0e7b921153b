/**
 * HL7 routing: the first HL7 rule whose match takes the message decides where it goes. The
 * legacy inbound and the new service's queue are delivery targets; a patient's messages share
 * a partition (a hash of the patient key), and each partition is delivered in order.
 */
import { DEFAULT_LEGACY_HL7_UPSTREAM, partitionOf, type Hl7Rule, type RuleSet } from '@ficus/contracts';
import type { MessageHeader } from '@ficus/hl7-protocol';
import type { Delivery } from '../store/message-store.js';

export interface Hl7Route {
  rule: Hl7Rule;
  /** delivery targets: `legacy:<upstream>` and/or `queue:<service>` */
  targets: string[];
  /** the legacy inbound (an upstream's name) when legacy is one of the targets: the one that answers queries */
  legacyUpstream: string | undefined;
  /** held in legacy by the emergency override file (routing/hl7-emergency.ts): its stored message says so */
  emergency: boolean;
}

export const legacyTarget = (upstream: string) => `legacy:${upstream}`;
export const queueTarget = (service: string) => `queue:${service}`;

/**
 * A message's deliveries, in the lane of `orderKey` (its first patient). A message of several
 * patients (a merge, a multi-patient ORU) names the others too (`otherKeys`): their lanes that are
 * not its own wait with it (lane-order.ts), so none of its patients' messages overtakes it, or is
 * overtaken by it, at any target.
 */
export function deliveriesFor(route: Hl7Route, orderKey: string, partitions: number, otherKeys: readonly string[] = []): Delivery[] {
  const partition = partitionOf(orderKey, partitions);
  const after = [...new Set(otherKeys.map((k) => partitionOf(k, partitions)))].filter((p) => p !== partition).sort((a, b) => a - b);
  return route.targets.map((target) => (after.length === 0 ? { target, partition } : { target, partition, afterPartitions: after }));
}

export class Hl7Router {
  readonly rules: Hl7Rule[];

  /** `emergency`: the rules the emergency override holds in legacy (ruleSet already has them so) */
  constructor(
    ruleSet: RuleSet,
    private readonly emergency: ReadonlySet<string> = new Set(),
  ) {
    this.rules = ruleSet.hl7 ?? [];
  }

  /**
   * Every target the rules name: each rule's legacy inbound and, whatever its mode, its new
   * service's queue (so that a service can be fed by a replay before its rule flips).
   */
  targets(): string[] {
    const all = new Set<string>();
    for (const r of this.rules) {
      all.add(legacyTarget(r.legacy ?? DEFAULT_LEGACY_HL7_UPSTREAM));
      if (r.target) all.add(queueTarget(r.target));
    }
    return [...all].sort();
  }

  route(h: Pick<MessageHeader, 'messageType' | 'triggerEvent' | 'sendingApplication' | 'sendingFacility'>): Hl7Route | undefined {
    const rule = this.rules.find((r) => {
      const m = r.match;
      return (
        (!m.messageTypes || m.messageTypes.includes(h.messageType)) &&
        (!m.triggerEvents || m.triggerEvents.includes(h.triggerEvent)) &&
        (!m.sendingApplications || m.sendingApplications.includes(h.sendingApplication.namespaceId)) &&
        (!m.sendingFacilities || m.sendingFacilities.includes(h.sendingFacility.namespaceId))
      );
    });
    if (!rule) return undefined;
    const upstream = rule.legacy ?? DEFAULT_LEGACY_HL7_UPSTREAM;
    const legacy = legacyTarget(upstream);
    const targets = rule.mode === 'legacy' ? [legacy] : rule.mode === 'dual' ? [legacy, queueTarget(rule.target!)] : [queueTarget(rule.target!)];
    return { rule, targets, legacyUpstream: rule.mode === 'new' ? undefined : upstream, emergency: this.emergency.has(rule.id) };
  }
}
