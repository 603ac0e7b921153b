/**
 * Turns the pgoutput stream of one replication connection into change events: keeps the
 * relations the server described (and re-plans a table each time it is described again: a
 * column added or dropped), numbers each change within its transaction, fills unchanged large
 * values from the old row, and recognises the write-back marker (a transactional logical
 * message with the prefix `ficus-writeback`, written first in the legacy writer's
 * transaction), whose transaction's changes are tagged (or dropped), except those the writer
 * marks as the legacy's own effect (writeback/origin-marks.ts).
 */
import { CHANGE_EVENT_SCHEMA_VERSION, type ChangeEvent } from '@ficus/contracts';
import { WRITEBACK_ORIGIN } from '@ficus/contracts/queues';
import { LEGACY_EFFECT_PREFIX } from '../writeback/origin-marks.js';
import type { TopicMapping } from '../mapping/mapping-file.js';
import { topicChanges, type TopicChange } from '../mapping/key-change.js';
import { planTable, rowOf, type TablePlan } from '../mapping/table-plan.js';
import { pgPosition, pgTimeToDate, UNCHANGED, type PgOutputMessage, type Relation, type TupleValue } from './pgoutput.js';
import { fromText } from './values.js';

export class FatalSourceError extends Error {
  override readonly name = 'FatalSourceError';
}

interface OpenTransaction {
  commitLsn: bigint;
  xid: number;
  commitTime: string;
  commitTimeMs: number;
  index: number;
  /** the origin of the changes from here on */
  origin: string | null;
  /** the legacy writer's transaction */
  writeback: boolean;
}

export interface DecoderOptions {
  source: string;
  database: string;
  /** topic mappings by lower-case "schema.table" */
  tables: Map<string, TopicMapping>;
  /** what to do with the changes of the legacy writer's own transactions */
  echo: 'tag' | 'drop';
  emit: (e: ChangeEvent) => void;
  /** a transaction ended: `endLsn` may be acknowledged once everything emitted is enqueued */
  committed: (c: { commitLsn: bigint; endLsn: bigint; commitTimeMs: number; lastPosition: string | null; changes: number; echo: boolean }) => void;
  /** a table was (re)described with columns the mapping did not expect and its policy lets through */
  unexpectedColumns?: (plan: TablePlan) => void;
}

export class ChangeDecoder {
  private readonly relations = new Map<number, { relation: Relation; plan: TablePlan } | null>();
  private txn: OpenTransaction | undefined;
  private lastPosition: string | null = null;
  private changes = 0;

  constructor(private readonly o: DecoderOptions) {}

  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  handle(m: PgOutputMessage): void {
    switch (m.tag) {
      case 'begin': {
        const at = pgTimeToDate(m.commitTime);
        this.txn = { commitLsn: m.finalLsn, xid: m.xid, commitTime: at.toISOString(), commitTimeMs: at.getTime(), index: 0, origin: null, writeback: false };
        this.changes = 0;
        this.lastPosition = null;
        return;
      }
      case 'commit': {
        const t = this.txn;
        this.txn = undefined;
        this.o.committed({ commitLsn: m.commitLsn, endLsn: m.endLsn, commitTimeMs: t?.commitTimeMs ?? pgTimeToDate(m.commitTime).getTime(), lastPosition: this.lastPosition, changes: this.changes, echo: t?.writeback === true });
        return;
      }
      case 'relation':
        this.describe(m.relation);
        return;
      case 'message':
        if (!m.transactional || !this.txn) return;
        if (m.prefix === WRITEBACK_ORIGIN) {
          this.txn.origin = WRITEBACK_ORIGIN;
          this.txn.writeback = true;
        } else if (m.prefix === LEGACY_EFFECT_PREFIX) {
          // what the legacy makes of the write for another service's records: that service must see it
          this.txn.origin = null;
        }
        return;
      case 'insert':
        this.change(m.relationOid, 'create', null, m.after);
        return;
      case 'update':
        // a key-only old row ('K') is no old row: without FULL the topic's key may not be in it
        this.change(m.relationOid, 'update', m.beforeIsKeyOnly ? null : m.before, m.after);
        return;
      case 'delete':
        this.change(m.relationOid, 'delete', m.beforeIsKeyOnly ? null : m.before, null);
        return;
      case 'truncate': {
        const names = m.relationOids.map((oid) => this.relations.get(oid)?.relation.name ?? `oid ${oid}`);
        throw new FatalSourceError(
          `TRUNCATE of ${names.join(', ')} cannot be expressed as row changes, so it is not passed on silently: the topics are now out of step. ` +
            'Take a new snapshot (CDC_RESNAPSHOT=true) once the table is as it should be',
        );
      }
      case 'origin':
      case 'type':
        return;
    }
  }

  private describe(r: Relation): void {
    const mapping = this.o.tables.get(`${r.schema}.${r.name}`.toLowerCase());
    if (!mapping) {
      this.relations.set(r.oid, null); // published, but not mapped: nothing to do with it
      return;
    }
    // throws SchemaChangeError: a mapped column was dropped, or a new one is refused
    const plan = planTable(
      mapping,
      r.columns.map((c) => ({ name: c.name, type: c.typeOid })),
    );
    if (plan.unexpected.length > 0) this.o.unexpectedColumns?.(plan);
    this.relations.set(r.oid, { relation: r, plan });
  }

  private change(oid: number, op: 'create' | 'update' | 'delete', before: TupleValue[] | null, after: TupleValue[] | null): void {
    const t = this.txn;
    if (!t) throw new Error('pgoutput: a change outside a transaction');
    const described = this.relations.get(oid);
    if (described === undefined) throw new Error(`pgoutput: a change of relation ${oid}, which the server did not describe`);
    if (described === null) return;
    const { relation, plan } = described;
    if (op !== 'create' && before === null) throw new FatalSourceError(withoutOldRow(relation, op));
    const beforeValues = before ? convert(relation, before, null) : null;
    const afterValues = after ? convert(relation, after, beforeValues) : null;
    const beforeRow = beforeValues ? rowOf(plan, beforeValues) : null;
    const afterRow = afterValues ? rowOf(plan, afterValues) : null;
    // a key change is a delete of the old key and a create of the new one (mapping/key-change.ts)
    for (const c of topicChanges(plan, op, beforeRow, afterRow)) this.emit(t, relation, plan, c);
  }

  private emit(t: OpenTransaction, relation: Relation, plan: TablePlan, c: TopicChange): void {
    t.index++;
    const position = pgPosition(t.commitLsn, t.index);
    this.lastPosition = position;
    this.changes++;
    if (t.origin !== null && this.o.echo === 'drop') return;
    this.o.emit({
      schemaVersion: CHANGE_EVENT_SCHEMA_VERSION,
      topic: plan.topic,
      op: c.op,
      key: c.key,
      before: c.before,
      after: c.after,
      ...c.moved,
      source: { system: 'postgres', name: this.o.source, database: this.o.database, schema: relation.schema, table: relation.name, position, txId: String(t.xid), commitTime: t.commitTime, origin: t.origin },
    });
  }
}

const IDENTITY_NAMES: Record<Relation['replicaIdentity'], string> = { d: 'DEFAULT', i: 'USING INDEX', n: 'NOTHING', f: 'FULL' };

/**
 * The WAL of a change made while the table's REPLICA IDENTITY was not FULL holds no whole old
 * row, and never will: restarting reads the same record again. Only a new snapshot mends it.
 */
function withoutOldRow(r: Relation, op: 'update' | 'delete'): string {
  const identity = IDENTITY_NAMES[r.replicaIdentity] ?? r.replicaIdentity;
  return (
    `table ${r.name} sent ${op === 'update' ? 'an' : 'a'} ${op} without its whole old row (its REPLICA IDENTITY was ${identity} when the change was made; it must be FULL): the topic's key and the old values may not be in it, ` +
    `so nothing past this change is passed on. The change cannot be read whole again: set it back (ALTER TABLE ${r.schema}.${r.name} REPLICA IDENTITY FULL) ` +
    'and restart with CDC_RESNAPSHOT=true to take a new snapshot'
  );
}

function convert(r: Relation, values: TupleValue[], old: unknown[] | null): unknown[] {
  const out = new Array<unknown>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === UNCHANGED) {
      if (!old) throw new FatalSourceError(`table ${r.name}: an unchanged large value without the old row to take it from (REPLICA IDENTITY FULL is needed)`);
      out[i] = old[i];
    } else {
      out[i] = fromText(r.columns[i]!.typeOid, v);
    }
  }
  return out;
}
