/**
 * Messages that decode but that this adapter must not take, refused (AR) before anything is
 * stored for delivery: each would otherwise be applied to a chart it does not belong on.
 *
 * - a processing id (MSH-11) this adapter does not serve: a training (T) update renamed a real
 *   patient, a debugging (D) result was filed as final;
 * - an MSH-9 that names no trigger event (`ADT-A08`, `ADT^`): routed by a catch-all rule, it
 *   was acknowledged AA and then dead-lettered by legacy, unseen by the sender;
 * - bytes beyond ASCII under MSH-18 ASCII: the decoder reads them as windows-1252, and UTF-8
 *   `é` was stored as `Ã©`;
 * - an identifier list (PID-3, MRG-1) with MRs of several assigning authorities while none is
 *   named as this hospital's (HL7_MRN_AUTHORITIES empty): the first MR was taken, and an HIE
 *   feed's `7700004^^^OTHERHOSP^MR~7710003^^^GENHOSP^MR` filed a result under another patient.
 *   Legacy and the services read the MRN by the same rule, so the message is stopped here,
 *   where the sender hears of it.
 */
import { hl7Error, type Hl7Error, type Hl7Message } from '@ficus/hl7-protocol';

/** What this adapter takes, from its configuration. */
export interface IntakePolicy {
  /** MSH-11 values taken (HL7_PROCESSING_IDS); an empty MSH-11 counts as P */
  readonly processingIds: ReadonlySet<string>;
  /** whether HL7_MRN_AUTHORITIES names this hospital's assigning authorities */
  readonly mrnAuthoritiesNamed: boolean;
}

export const PRODUCTION_ONLY: IntakePolicy = { processingIds: new Set(['P']), mrnAuthoritiesNamed: false };

const PROCESSING_NAMES: Record<string, string> = { P: 'production', D: 'debugging', T: 'training' };
/** a message code (table 0076): three letters or digits, Z codes included */
const MESSAGE_CODE = /^[A-Z0-9]{3}$/;

/** The first reason, in field order, why a decoded message's header is not for this adapter. */
export function headerRefusal(m: Hl7Message, policy: IntakePolicy): Hl7Error | undefined {
  return messageTypeRefusal(m) ?? processingIdRefusal(m, policy) ?? charsetRefusal(m);
}

function messageTypeRefusal(m: Hl7Message): Hl7Error | undefined {
  const h = m.header;
  if (!MESSAGE_CODE.test(h.messageType)) {
    return hl7Error(
      200,
      `MSH-9 (message type) must be message code ^ trigger event ^ structure, separated by "${m.delimiters.component}": its first component is not a message code of 3 letters or digits (table 0076)`,
      { segment: 'MSH', sequence: 1, field: 9 },
    );
  }
  // v2.1 wrote the message code alone; every later version names the event in MSH-9.2
  if (h.triggerEvent === '' && h.version !== '2.1') {
    return hl7Error(101, `MSH-9.2 (trigger event) is required: MSH-9 names the message code ${h.messageType} but no event`, { segment: 'MSH', sequence: 1, field: 9, component: 2 });
  }
  return undefined;
}

function processingIdRefusal(m: Hl7Message, policy: IntakePolicy): Hl7Error | undefined {
  const id = m.header.processingId || 'P';
  if (policy.processingIds.has(id)) return undefined;
  const taken = [...policy.processingIds].map((p) => `${p} (${PROCESSING_NAMES[p] ?? p})`).join(', ');
  return hl7Error(
    202,
    `MSH-11 (processing id) is ${id} (${PROCESSING_NAMES[id] ?? id}): this receiver takes ${taken} only (HL7_PROCESSING_IDS); the message is not stored: send it to a receiver for ${PROCESSING_NAMES[id] ?? id} messages`,
    { segment: 'MSH', sequence: 1, field: 11 },
  );
}

function charsetRefusal(m: Hl7Message): Hl7Error | undefined {
  // eslint-disable-next-line no-control-regex
  if (m.charset !== 'ASCII' || /^[\x00-\x7f]*$/.test(m.text)) return undefined;
  return hl7Error(102, 'the message bytes are not valid ASCII (MSH-18): a byte above 0x7F; name the character set the text is in (UNICODE UTF-8, 8859/1…) in MSH-18', {
    segment: 'MSH',
    sequence: 1,
    field: 18,
  });
}

/**
 * With no authority of this hospital named: the first identifier list (PID-3 of each PID, MRG-1
 * of each MRG) whose MRs name more than one assigning authority (CX-4; none is one of them).
 * One MR, or several of one authority, are not in doubt.
 */
export function ambiguousMrnRefusal(m: Hl7Message, policy: IntakePolicy): Hl7Error | undefined {
  if (policy.mrnAuthoritiesNamed) return undefined;
  for (const [segment, field] of [
    ['PID', 3],
    ['MRG', 1],
  ] as const) {
    for (let n = 1; n <= m.count(segment); n++) {
      const authorities = mrAuthorities(m, `${segment}[${n}]-${field}`);
      if (authorities.size < 2) continue;
      const named = [...authorities].map((a) => (a === '' ? '(none)' : a)).join(', ');
      return hl7Error(
        103,
        `${segment}-${field} lists medical record numbers (CX-5 MR) of ${authorities.size} assigning authorities (${named}) and which is this hospital's is not configured: set HL7_MRN_AUTHORITIES on the receiver, or send this hospital's MR only`,
        { segment, sequence: n, field },
      );
    }
  }
  return undefined;
}

/** The assigning authorities (CX-4 namespace, else universal id; '' for none) of a list's MR repetitions. */
function mrAuthorities(m: Hl7Message, list: string): Set<string> {
  const found = new Set<string>();
  for (let r = 1; r <= m.repetitionCount(list); r++) {
    const cx = (component: number, sub = 1) => m.get(`${list}(${r}).${component}.${sub}`).trim();
    if (cx(5).toUpperCase() !== 'MR' || cx(1) === '') continue;
    found.add((cx(4, 1) || cx(4, 2)).toUpperCase());
  }
  return found;
}
