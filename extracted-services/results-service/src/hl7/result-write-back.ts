/**
 * What an ORU the legacy did not get changed, handed to the outbox in the message's transaction
 * (the legacy writer writes it back), and noted as the service's own until the legacy is seen to
 * hold it (results/local-changes.ts). An update carries the result as it was before the message,
 * less the fields still pending from earlier ORUs: the legacy writer then sets only the fields
 * the message changed and those (an earlier write-back may never have landed), so a legacy
 * screen's edit of another field of that result, made meanwhile, stays in the legacy.
 */
import type pg from 'pg';
import type { OutboxSeam, OutgoingChange } from '@ficus/service-kit';
import { noteLocalChange, type BeforeLocalChange } from '../results/local-changes.js';
import { resultTopicRow } from '../results/result-topic.js';

export async function resultChanged(outbox: OutboxSeam, tx: pg.PoolClient, id: string, op: OutgoingChange['op'], before: BeforeLocalChange | undefined): Promise<void> {
  const key = { resultId: id };
  if (op === 'delete') {
    await outbox(tx, { topic: 'lab-results', op, key, before: null, after: null });
    return;
  }
  const after = await resultTopicRow(tx, id);
  if (!after) return;
  const earlier = op === 'update' ? (before ?? null) : null;
  // an update without its before image leaves the fields unknown: the whole-row rule then
  const image = op === 'create' || earlier ? await noteLocalChange(tx, id, earlier, after) : null;
  await outbox(tx, { topic: 'lab-results', op, key, before: image, after });
}
