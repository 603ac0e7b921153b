/**
 * One row change at the source as its topic sees it. An update that changes the topic's key (a
 * legacy screen renaming a PAT_MRN) is, for the topic, the old key gone and a new one there:
 * a delete of the old key carrying `movedTo` and a create of the new one carrying `movedFrom`,
 * each naming the other, so that a consumer with changes of its own under the old key (and the
 * legacy writer with one on its way) can follow the row instead of keeping two of it.
 *
 * Shared by every source (the PostgreSQL decoder, the SQL Server source), so that a key change
 * has one shape whichever database the legacy runs on; each source gives the parts positions.
 */
import { keyText, type ChangeEvent } from '@ficus/contracts';
import { keyOf, type TablePlan } from './table-plan.js';

type Row = Record<string, unknown>;

export interface TopicChange {
  op: 'create' | 'update' | 'delete';
  key: Row;
  before: Row | null;
  after: Row | null;
  moved: Pick<ChangeEvent, 'movedTo' | 'movedFrom'>;
}

/**
 * The topic's changes of one source change (rows in topic field names): one, or for an update
 * whose old and new rows have different keys two, the delete of the old key first.
 */
export function topicChanges(plan: TablePlan, op: TopicChange['op'], before: Row | null, after: Row | null): TopicChange[] {
  const keyAfter = after ? keyOf(plan, after) : null;
  const keyBefore = before ? keyOf(plan, before) : null;
  if (op === 'update' && keyBefore && keyAfter && keyText(keyBefore) !== keyText(keyAfter)) {
    return [
      { op: 'delete', key: keyBefore, before, after: null, moved: { movedTo: keyAfter } },
      { op: 'create', key: keyAfter, before: null, after, moved: { movedFrom: keyBefore } },
    ];
  }
  return [{ op, key: (keyAfter ?? keyBefore)!, before, after, moved: {} }];
}
