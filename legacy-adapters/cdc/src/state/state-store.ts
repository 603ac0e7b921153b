/**
 * The CDC deployable's own small database (migrations/cdc): per source, where its snapshot
 * stands and (SQL Server) the last LSN enqueued.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runMigrations, type Logger } from '@ficus/contracts';
import type { PublicationSeen } from '../postgres/publication-watch.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/cdc', import.meta.url));

export interface SourceState {
  name: string;
  kind: 'postgres' | 'mssql';
  slot: string | null;
  snapshotState: 'pending' | 'done' | 'skipped';
  snapshotPosition: string | null;
  snapshotRows: number | null;
  position: string | null;
  /** PostgreSQL: what the publication published when streaming last started (null: not known) */
  publicationSeen: PublicationSeen | null;
}

export class StateStore {
  readonly pool: pg.Pool;

  private constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined); // an idle connection dropped: the next query reconnects
  }

  static async open(url: string, log: Logger): Promise<StateStore> {
    await runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, table: 'cdc_pgmigrations', log });
    return new StateStore(url);
  }

  async get(name: string, kind: SourceState['kind']): Promise<SourceState> {
    await this.pool.query('INSERT INTO cdc_sources (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, kind]);
    const { rows } = await this.pool.query<{ name: string; kind: SourceState['kind']; slot: string | null; snapshot_state: SourceState['snapshotState']; snapshot_position: string | null; snapshot_rows: string | null; position: string | null; publication_seen: PublicationSeen | null }>(
      'SELECT name, kind, slot, snapshot_state, snapshot_position, snapshot_rows, position, publication_seen FROM cdc_sources WHERE name = $1',
      [name],
    );
    const r = rows[0]!;
    if (r.kind !== kind) throw new Error(`source "${name}" was a ${r.kind} source and is now configured as ${kind}: give it another name`);
    return { name: r.name, kind: r.kind, slot: r.slot, snapshotState: r.snapshot_state, snapshotPosition: r.snapshot_position, snapshotRows: r.snapshot_rows === null ? null : Number(r.snapshot_rows), position: r.position, publicationSeen: r.publication_seen };
  }

  async snapshotStarted(name: string, slot: string | null, position: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE cdc_sources SET snapshot_state = 'pending', slot = $2, snapshot_position = $3, snapshot_rows = NULL, snapshot_started_at = clock_timestamp(),
              snapshot_done_at = NULL, position = NULL, updated_at = clock_timestamp() WHERE name = $1`,
      [name, slot, position],
    );
  }

  async snapshotFinished(name: string, state: 'done' | 'skipped', rows: number, position: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE cdc_sources SET snapshot_state = $2, snapshot_rows = $3, snapshot_done_at = clock_timestamp(), position = coalesce($4, position), updated_at = clock_timestamp() WHERE name = $1`,
      [name, state, rows, position],
    );
  }

  async savePosition(name: string, position: string): Promise<void> {
    await this.pool.query('UPDATE cdc_sources SET position = $2, updated_at = clock_timestamp() WHERE name = $1', [name, position]);
  }

  async savePublication(name: string, seen: PublicationSeen): Promise<void> {
    await this.pool.query('UPDATE cdc_sources SET publication_seen = $2, updated_at = clock_timestamp() WHERE name = $1', [name, JSON.stringify(seen)]);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
