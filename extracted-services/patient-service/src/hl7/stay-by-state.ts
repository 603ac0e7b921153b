/**
 * Which stay an early copy changes when the message names it by state, or names one the service
 * does not have (the legacy holds the record: `dual`).
 *
 * Without PV1-19 a message means the stay its receiver's state names: the stay discharged last
 * (A13), the newest open one (A03, A02, A12, A06, A07). The legacy applies the message to the stay
 * its own state names then; the service applies its copy to the stay the service's state names
 * when the copy comes, and once the legacy's CDC of the message's effect (or of a later change)
 * has come first, that is another stay, whose own legacy state predates the message, so the
 * stay's conflict rule lets the copy through: the copy changes a stay the legacy did not, and no
 * CDC ever corrects it. Likewise a PV1-19 the service has no stay of may be one the legacy
 * deleted since (its A11, seen through CDC first): HL7 204 there is a dead letter where nothing
 * is wrong.
 *
 * So such a copy is judged against the patient's stays as a whole: when the legacy changed or
 * deleted any of them at or after the message's time (legacy-stay-changes.ts), the service's
 * state is no longer the one the message was sent against, and the copy is `stale`. That is safe
 * because the legacy got the message too and its effect comes through CDC; at worst a copy loses
 * its earliness (a transfer, A02/A12, which the legacy does not apply, is then in neither, as any
 * stale transfer). A message with a visit number the service holds is judged by that stay alone,
 * as before; a message the service applies as the system of record (no legacy copy to defer to)
 * is not judged here at all.
 */
import { Hl7Refusal } from '@ficus/hl7-protocol';
import { lockEarlyCopies, type Hl7Context } from '@ficus/service-kit';
import { legacyChangedStaysSince } from '../encounters/legacy-stay-changes.js';

/**
 * `find`'s stay, or `stale` (above). `byState`: the message names no visit number. A 204 that
 * `find` throws (no stay of that number, no open or discharged stay) is judged the same way.
 */
export async function stayOrStale<S>(ctx: Hl7Context, mrn: string, byState: boolean, find: () => Promise<S>): Promise<S | 'stale'> {
  const time = ctx.order.time;
  if (ctx.systemOfRecord !== 'legacy' || time === null) return find();
  // before any stay's row lock, as the CDC feed takes them: no legacy change of these stays lands between the judgement and the copy
  await lockEarlyCopies(ctx.tx, 'encounter', [mrn], 'handler');
  if (byState && (await legacyChangedStaysSince(ctx.tx, mrn, time))) return 'stale';
  try {
    return await find();
  } catch (err) {
    if (err instanceof Hl7Refusal && err.error.code === 204 && (await legacyChangedStaysSince(ctx.tx, mrn, time))) return 'stale';
    throw err;
  }
}
