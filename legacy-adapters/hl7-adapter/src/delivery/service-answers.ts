/**
 * What a new service made of a message, in the terms of an application ACK: AA when it took it,
 * else AE or AR with the reason its dead letter records (`HL7 204 at PID^1^3^1^1: PID-3: no
 * patient with this MRN`). Kept in the delivery's answer as legacy's answers are
 * (legacy-answers.ts: `AE: HL7 204 at PID^1^3^1^1: PID-3: …`), so that the application ACK sent
 * later to a resend says the same as the first.
 */

export interface ServiceAnswer {
  code: 'AA' | 'AE' | 'AR';
  /** the service's reason for giving the message up (never patient data: the services write none in it) */
  reason?: string;
}

/**
 * A dead letter's reason as an answer. An unsupported message type, event, processing id or
 * version (200-203) is a rejection (AR), as the legacy inbound answers it; anything else the
 * service could not apply is an error in the message (AE).
 */
export function serviceAnswer(reason: string): ServiceAnswer {
  const code = Number(/^HL7 (\d+)\b/.exec(reason)?.[1]);
  return { code: code >= 200 && code <= 203 ? 'AR' : 'AE', reason };
}

/** The answer as the store keeps it. */
export function serviceAnswerText(a: ServiceAnswer): string {
  return a.code === 'AA' || !a.reason ? a.code : `${a.code}: ${a.reason}`.slice(0, 2_000);
}
