/**
 * What every CDC source (PostgreSQL, SQL Server) reports, in the shape of GET /api/cdc/status.
 */
import type { ChangeEvent } from '@ficus/contracts';
import type { CdcSourceStatus } from '@ficus/contracts/api';
import type { TablePlan } from './mapping/table-plan.js';

export type SourceState = 'starting' | 'snapshot' | 'streaming' | 'stopped' | 'error';

export interface SourceStatus extends CdcSourceStatus {
  [more: string]: unknown;
}

/** what a source tells the deployable as it goes (metrics, logs) */
export interface SourceHooks {
  read(e: ChangeEvent): void;
  echo(changes: number): void;
  backPressure(): void;
  unexpectedColumns(plan: TablePlan): void;
  fatal(err: Error): void;
}

/** Changes per second over the last 10 seconds. */
export class RateWindow {
  private readonly buckets = new Array<number>(11).fill(0);
  private second = Math.floor(Date.now() / 1000);

  private roll(): void {
    const now = Math.floor(Date.now() / 1000);
    for (let s = this.second + 1; s <= now && s <= this.second + 11; s++) this.buckets[s % 11] = 0;
    this.second = Math.max(this.second, now);
  }

  add(n: number): void {
    this.roll();
    this.buckets[this.second % 11]! += n;
  }

  perSecond(): number {
    this.roll();
    let sum = 0;
    for (let i = 0; i < 11; i++) if (i !== this.second % 11) sum += this.buckets[i]!;
    return Math.round(sum / 10);
  }
}
