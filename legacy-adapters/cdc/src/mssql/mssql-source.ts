/**
 * The SQL Server source: reads the CDC change tables that SQL Server's capture job fills
 * (CDC enabled by migrations/legacy-mssql), polling `cdc.fn_cdc_get_all_changes_<instance>`
 * between the stored LSN and `sys.fn_cdc_get_max_lsn()`. The stored LSN (state database)
 * moves only after the window's events are enqueued. The first time, the mapped tables are read
 * as a snapshot at the then maximum LSN, each topic ending with its snapshot end (mssql-snapshot.ts);
 * changes after it replay on top (idempotent by position).
 *
 * Kept thin on purpose: the window logic and the row mapping are pure functions
 * (lsn-window.ts, change-rows.ts) with unit tests; this file only talks to the server. It has
 * NOT been run against a real SQL Server (none runs on the machines this was built on): see
 * the README.
 */
import sql from 'mssql';
import { FailureStreak, type Logger } from '@ficus/contracts';
import type { CdcMapping, TopicMapping } from '../mapping/mapping-file.js';
import { MappingError, mappingIssue } from '../mapping/mapping-file.js';
import { planTable, SchemaChangeError, type TablePlan } from '../mapping/table-plan.js';
import type { Publisher } from '../publish/publisher.js';
import { RateWindow, type SourceHooks, type SourceState, type SourceStatus } from '../source.js';
import type { StateStore } from '../state/state-store.js';
import { bracket, changesQuery, eventsOfRows, type MssqlChangeRow, type ReadChangeRow } from './change-rows.js';
import { publishMssqlSnapshot } from './mssql-snapshot.js';
import { lsnBuffer, lsnHex, LsnBelowMinimumError, mssqlPosition, nextWindow } from './lsn-window.js';
import { lobColumnOf, type LobColumn } from './update-mask.js';

export interface MssqlSourceOptions {
  connectionString: string;
  mapping: CdcMapping;
  state: StateStore;
  publisher: Publisher;
  pollMs: number;
  log: Logger;
  hooks: SourceHooks;
}

interface CapturedMssqlTable {
  mapping: TopicMapping;
  schema: string;
  table: string;
  captureInstance: string;
  plan: TablePlan;
  /** large-object columns by name, with their update-mask ordinal (update-mask.ts) */
  lobs: ReadonlyMap<string, LobColumn>;
}

export class MssqlSource {
  readonly name: string;
  readonly kind = 'mssql' as const;
  private pool: sql.ConnectionPool | undefined;
  private tables: CapturedMssqlTable[] = [];
  private state: SourceState = 'stopped';
  private error: string | undefined;
  private stored: string | null = null;
  private database = '';
  private running = false;
  private loop: Promise<void> | undefined;
  private lastCommitAt: string | null = null;
  private caughtUpAt: number | null = null;
  private readonly rate = new RateWindow();

  constructor(private readonly o: MssqlSourceOptions) {
    this.name = o.mapping.source;
  }

  async start(): Promise<void> {
    this.pool = await new sql.ConnectionPool(this.o.connectionString).connect();
    const db = await this.pool.request().query<{ name: string; is_cdc_enabled: boolean }>('SELECT name, is_cdc_enabled FROM sys.databases WHERE name = DB_NAME()');
    this.database = db.recordset[0]!.name;
    if (!db.recordset[0]!.is_cdc_enabled) throw new Error(`CDC is not enabled on SQL Server database ${this.database}: run EXEC sys.sp_cdc_enable_db (migrations/legacy-mssql)`);
    this.tables = await this.checkTables();
    this.running = true;
    this.state = 'starting';
    this.loop = this.run();
  }

  private async checkTables(): Promise<CapturedMssqlTable[]> {
    const m = this.o.mapping;
    const schema = m.schema ?? 'dbo';
    const issues = [];
    const out: CapturedMssqlTable[] = [];
    for (const t of m.topics) {
      const here = ['cdc', 'topics', t.index];
      const ci = await this.pool!.request()
        .input('schema', schema)
        .input('table', t.table)
        .query<{ capture_instance: string; object_id: number }>(
          `SELECT ct.capture_instance, ct.object_id FROM cdc.change_tables ct
            WHERE OBJECT_SCHEMA_NAME(ct.source_object_id) = @schema AND OBJECT_NAME(ct.source_object_id) = @table ORDER BY ct.create_date DESC`,
        );
      const instance = ci.recordset[0];
      if (!instance) {
        issues.push(mappingIssue(m, [...here, 'table'], `table ${schema}.${t.table} is not enabled for CDC (EXEC sys.sp_cdc_enable_table, migrations/legacy-mssql)`));
        continue;
      }
      // the change table's own sys.columns tells a (max) or xml column (max_length -1) from a sized one
      const captured = await this.pool!.request()
        .input('ct', instance.object_id)
        .query<{ column_name: string; column_type: string; column_ordinal: number; max_length: number | null }>(
          `SELECT cc.column_name, cc.column_type, cc.column_ordinal, c.max_length FROM cdc.captured_columns cc
             LEFT JOIN sys.columns c ON c.object_id = cc.object_id AND c.name = cc.column_name
            WHERE cc.object_id = @ct ORDER BY cc.column_ordinal`,
        );
      const all = await this.pool!.request()
        .input('name', `${schema}.${t.table}`)
        .query<{ name: string }>('SELECT name FROM sys.columns WHERE object_id = OBJECT_ID(@name)');
      const capturedNames = new Set(captured.recordset.map((c) => c.column_name.toLowerCase()));
      const notCaptured = all.recordset.map((c) => c.name).filter((c) => !capturedNames.has(c.toLowerCase()) && !t.ignore.some((i) => i.toLowerCase() === c.toLowerCase()));
      if (notCaptured.length > 0 && t.onNewColumn === 'refuse') {
        issues.push(mappingIssue(m, [...here, 'table'], `table ${t.table} has column ${notCaptured.join(', ')} that its capture instance ${instance.capture_instance} does not capture: make a new capture instance, or list the column under ignore`));
        continue;
      }
      try {
        const plan = planTable(
          { ...t, ignore: [...t.ignore, ...notCaptured] },
          captured.recordset.map((c) => ({ name: c.column_name, type: c.column_type })),
        );
        const lobs = new Map<string, LobColumn>();
        for (const c of captured.recordset) {
          const lob = lobColumnOf(c.column_type, c.max_length, c.column_ordinal);
          if (lob) lobs.set(c.column_name, lob);
        }
        out.push({ mapping: t, schema, table: t.table, captureInstance: instance.capture_instance, plan, lobs });
      } catch (e) {
        if (!(e instanceof SchemaChangeError)) throw e;
        issues.push(mappingIssue(m, [...here, 'fields'], e.message));
      }
    }
    if (issues.length > 0) throw new MappingError(issues);
    return out;
  }

  enqueued(_ack: bigint | undefined, changes: number): void {
    this.rate.add(changes);
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: this.kind,
      state: this.state === 'starting' ? 'stopped' : this.state,
      lagBytes: null,
      lagMs: null,
      lastPosition: this.stored,
      lastCommitAt: this.lastCommitAt,
      changesPerSecond: this.rate.perSecond(),
      ...(this.error ? { error: this.error } : {}),
      caughtUpAt: this.caughtUpAt === null ? null : new Date(this.caughtUpAt).toISOString(),
    };
  }

  /** Every change committed before this time has been handed to the publisher: the start of the last poll that read to the end. */
  caughtUpAtMs(): number | null {
    return this.state === 'streaming' ? this.caughtUpAt : null;
  }

  slotLagBytes(): Promise<number | null> {
    return Promise.resolve(null);
  }

  private async run(): Promise<void> {
    const streak = new FailureStreak(this.o.log, `SQL Server CDC poll of ${this.name}`, 10);
    while (this.running) {
      try {
        const st = await this.o.state.get(this.name, 'mssql');
        if (st.snapshotState === 'pending') await this.snapshot();
        else this.stored ??= st.position;
        this.state = 'streaming';
        const n = await this.pollOnce();
        this.error = undefined;
        streak.succeeded();
        if (n === 0) await new Promise((r) => setTimeout(r, this.o.pollMs));
      } catch (e) {
        if (!this.running) break;
        this.error = (e as Error).message;
        this.state = 'error';
        if (e instanceof LsnBelowMinimumError) {
          this.o.hooks.fatal(e);
          this.o.log.error({ source: this.name, err: this.error }, 'CDC source stopped: this needs a person');
          this.running = false;
          return;
        }
        streak.failed(e as Error, { source: this.name });
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(streak.count, 6))));
      }
    }
  }

  private async maxLsn(): Promise<string | null> {
    const r = await this.pool!.request().query<{ lsn: Buffer | null }>('SELECT sys.fn_cdc_get_max_lsn() AS lsn');
    return r.recordset[0]!.lsn ? lsnHex(r.recordset[0]!.lsn) : null;
  }

  private async snapshot(): Promise<void> {
    this.state = 'snapshot';
    const at = (await this.maxLsn()) ?? '0'.repeat(20);
    const position = mssqlPosition(at, '0', 0);
    await this.o.state.snapshotStarted(this.name, null, position);
    const rows = await publishMssqlSnapshot({
      tables: this.tables,
      position,
      source: this.name,
      database: this.database,
      read: async (t) => {
        const cols = t.plan.columns.map((c) => bracket(c.column)).join(', ');
        return (await this.pool!.request().query<Record<string, unknown>>(`SELECT ${cols} FROM ${bracket(t.schema)}.${bracket(t.table)}`)).recordset;
      },
      publisher: this.o.publisher,
      hooks: this.o.hooks,
    });
    await this.o.publisher.drain();
    await this.o.state.snapshotFinished(this.name, 'done', rows, at);
    this.stored = at;
  }

  /** One window over every capture instance; answers the number of changes enqueued. */
  private async pollOnce(): Promise<number> {
    const startedAt = Date.now();
    const max = await this.maxLsn();
    const rows: ReadChangeRow[] = [];
    for (const t of this.tables) {
      const min = await this.pool!.request().input('ci', t.captureInstance).query<{ lsn: Buffer | null }>('SELECT sys.fn_cdc_get_min_lsn(@ci) AS lsn');
      const w = nextWindow({ captureInstance: t.captureInstance, stored: this.stored, minLsn: min.recordset[0]!.lsn ? lsnHex(min.recordset[0]!.lsn) : null, maxLsn: max });
      if (w.kind === 'idle') continue;
      const r = await this.pool!.request().input('from', sql.VarBinary(10), lsnBuffer(w.from)).input('to', sql.VarBinary(10), lsnBuffer(w.to)).query<MssqlChangeRow>(changesQuery(t.captureInstance));
      const meta = r.recordset.columns as unknown as Record<string, { type: { declaration?: string } }>;
      const ctx = { source: this.name, database: this.database, schema: t.schema, table: t.table, captureInstance: t.captureInstance, types: new Map(Object.entries(meta).map(([name, c]) => [name, c.type.declaration ?? 'unknown'])), commitTime: null, lobs: t.lobs };
      for (const row of r.recordset) rows.push({ row, plan: t.plan, ctx });
    }
    // in order, an update's two rows made one change (a key change two: change-rows.ts)
    let n = 0;
    for (const e of eventsOfRows(rows, this.o.log)) {
      this.o.hooks.read(e);
      this.o.publisher.add(e);
      n++;
      if (this.o.publisher.pressure) await this.o.publisher.belowLowWater();
    }
    if (max && (this.stored === null || max > this.stored)) {
      await this.o.publisher.drain();
      await this.o.state.savePosition(this.name, max);
      this.stored = max;
      if (n > 0) this.lastCommitAt = new Date().toISOString();
    }
    // everything committed before this poll began is at most `max`, and has been handed to the publisher
    this.caughtUpAt = startedAt;
    return n;
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
    this.state = 'stopped';
    await this.pool?.close();
  }
}
