/**
 * The snapshot of tables new to the mapping of a source that already streams (a topic added for a
 * newly extracted service). Their changes stream from the moment the start adds them to the
 * publication, but the rows they held before were never read: without this they never reached
 * the topic. They are read at a consistent point of their own, the exported snapshot of a
 * temporary slot made for it on a replication connection of its own (dropped with it), and
 * published as `snapshot` events at that point, then each new topic's snapshot end. The stream
 * resumes behind them from the source's slot, which stands at or before that point: a streamed
 * change the snapshot already holds has an earlier position, and the services skip it.
 */
import type { Logger } from '@ficus/contracts';
import type { Publisher } from '../publish/publisher.js';
import type { SourceHooks } from '../source.js';
import { parseLsn, pgPosition } from './pgoutput.js';
import type { CapturedTable } from './preflight.js';
import type { PublicationSeen } from './publication-watch.js';
import { quoteIdent, ReplicationConnection } from './replication-connection.js';
import { snapshotTables } from './table-snapshot.js';

export interface AddedTablesSnapshot {
  databaseUrl: string;
  slot: string;
  /** the mapped tables */
  tables: CapturedTable[];
  /** what the publication published when CDC last streamed (null: not known, so nothing is taken for new) */
  seen: PublicationSeen | null;
  fetchRows: number;
  source: string;
  database: string;
  publisher: Publisher;
  hooks: SourceHooks;
  log: Logger;
}

/** Reads the tables mapped since CDC last streamed and enqueues their rows (waits until they are in Redis); the number of rows. */
export async function snapshotAddedTables(o: AddedTablesSnapshot): Promise<number> {
  const added = o.seen ? o.tables.filter((t) => o.seen!.tables[`${t.schema}.${t.name}`] === undefined) : [];
  if (added.length === 0) return 0;
  const conn = new ReplicationConnection(o.databaseUrl);
  let failed: Error | undefined;
  await conn.connect((e) => (failed = e));
  try {
    // a slot name is at most 63 bytes; a temporary slot goes with its session
    const name = `${o.slot.slice(0, 52)}_added_tmp`;
    const [created] = await conn.command<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(name)} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`);
    const tables = added.map((t) => t.name);
    o.log.info({ source: o.source, tables, at: created!.consistent_point }, 'tables new to the mapping: taking their snapshot');
    const rows = await snapshotTables({
      databaseUrl: o.databaseUrl,
      snapshotName: created!.snapshot_name,
      tables: added,
      position: pgPosition(parseLsn(created!.consistent_point), 0),
      fetchRows: o.fetchRows,
      source: o.source,
      database: o.database,
      publisher: o.publisher,
      hooks: o.hooks,
    });
    await o.publisher.drain();
    if (failed) throw failed;
    o.log.info({ source: o.source, tables, rows }, 'snapshot of the tables new to the mapping enqueued');
    return rows;
  } finally {
    await conn.close();
  }
}
