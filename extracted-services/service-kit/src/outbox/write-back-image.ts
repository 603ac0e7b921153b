/**
 * The before image of a service's local change for the outbox, and what stays pending after it.
 * The legacy writer sets the fields whose value differs between `before` and `after`, and the
 * fields `before` leaves out where the legacy still holds what the writer last wrote there (the
 * CDC deployable's writeback/written-values.ts); a legacy screen's edit of any other field stays.
 *
 * A field still pending (changed here by an earlier change, not yet seen to land in the legacy)
 * is left out: its legacy value is what the service does not know. The earlier write-back may
 * never land (dead-lettered for good, its job removed), and a later one that wrote only its own
 * fields would leave the legacy with the older value while its echo, the latest write-back's,
 * is applied whole in the service: both sides would hold the older value (a correction showing
 * the preliminary's abnormal flag, a phone reverted), alike, so reconcile could not see it. Had
 * it landed, and a screen edited the field since, the writer leaves the screen's edit, which
 * the service takes when it reads it.
 *
 * The fields the change made are still the latest change's for the echo rule
 * (`local_last_fields`, cdc/echo-merge.ts): the write-back writes them whatever the legacy
 * holds, and its echo, applied whole, gives the service the legacy's value of the others.
 */

type Row = Readonly<Record<string, unknown>>;

export interface WriteBackImage {
  /** what stays pending after the change: the earlier pending fields and the ones it changed */
  pending: string[];
  /** the before image for the outbox: the row before the change without the pending fields it did not change */
  before: Record<string, unknown>;
}

/**
 * `earlier`: the fields pending before the change; `changed`: the fields it changed. A change of
 * nothing writes nothing back (no echo), so it leaves nothing out: its before image is the whole row.
 */
export function writeBackImage(before: Row, earlier: readonly string[], changed: readonly string[]): WriteBackImage {
  const pending = [...new Set([...earlier, ...changed])];
  if (changed.length === 0) return { pending, before: { ...before } };
  const unknown = new Set(earlier.filter((f) => !changed.includes(f)));
  return { pending, before: Object.fromEntries(Object.entries(before).filter(([f]) => !unknown.has(f))) };
}
